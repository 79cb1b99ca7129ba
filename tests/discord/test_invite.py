"""`opsroom invite`: the OAuth2 URL asks for exactly the permissions of the one list in code."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import discord

from bot.adapters.discord import permissions
from bot.cli import main
from tests.unit.test_cli import TOKEN

# Discord's documented bit of each permission Opsroom uses, written out independently.
BITS = {
    "view_channel": 10,
    "send_messages": 11,
    "send_messages_in_threads": 38,
    "embed_links": 14,
    "attach_files": 15,
    "read_message_history": 16,
    "add_reactions": 6,
    "manage_channels": 4,
    "manage_roles": 28,
    "manage_threads": 34,
    "create_public_threads": 35,
    "create_private_threads": 36,
    "pin_messages": 51,
}
OPTIONAL_BITS = {"manage_events": 33}  # asked for, but setup works without it


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_permission_integer_is_the_list_and_nothing_more():
    """The integer is exactly the OR of the listed bits: no Administrator, no extras."""
    assert [need.flag for need in permissions.NEEDS] == list(BITS)
    assert [need.flag for need in permissions.OPTIONAL] == list(OPTIONAL_BITS)
    url = permissions.invite_url(1234)
    args = query(url)
    assert url.startswith("https://discord.com/oauth2/authorize?")
    assert args["client_id"] == ["1234"]
    assert args["scope"] == ["bot applications.commands"]
    bits = {**BITS, **OPTIONAL_BITS}.values()
    assert int(args["permissions"][0]) == sum(1 << bit for bit in bits)
    assert not discord.Permissions(int(args["permissions"][0])).administrator


def test_every_channel_check_is_part_of_the_list():
    """What setup checks per channel is a subset of what the invite asks for."""
    listed = {need.flag for need in permissions.NEEDS}
    for flags in (
        permissions.ALERTS_CHANNEL,
        permissions.OPERATING_ROOM,
        permissions.INCIDENT_CATEGORY,
    ):
        assert set(flags) <= listed


def test_the_application_id_comes_from_the_token(clean_environment, capsys):
    """A bot token's first part is its id in base64; `opsroom invite` reads it from there."""
    assert permissions.application_id_from_token(TOKEN) == 123456789012345678
    assert permissions.application_id_from_token("not-a-token") is None
    clean_environment.setenv("OPSROOM_DISCORD_TOKEN", TOKEN)
    assert main(["invite"]) == 0
    assert query(capsys.readouterr().out.strip())["client_id"] == ["123456789012345678"]


async def test_run_says_who_logged_in_and_how_to_invite_when_in_no_server(bot, caplog):
    """After READY: "logged in as NAME (id) in N servers"; in none, the invite URL."""
    from simcord import Env

    caplog.set_level(logging.INFO, logger="bot.adapters.discord.client")
    env = Env(bot, check_errors=False)
    await env.start()
    try:
        lines = [r.getMessage() for r in caplog.records if r.name.endswith("discord.client")]
        user = bot.user
        assert f"logged in as {user} ({user.id}) in 0 servers" in lines
        (invite,) = [line for line in lines if line.startswith("invite me to a server: ")]
        assert query(invite.split(": ", 1)[1])["client_id"] == [str(bot.application_id)]
    finally:
        await env.shutdown()

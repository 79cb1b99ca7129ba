"""Command sync only when the tree changed (hash in the database), endpoints, and the client."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route
from simcord import Env

from bot.adapters.discord import endpoints, point_at
from bot.adapters.discord.client import EXTENSIONS, OpsroomTree
from bot.adapters.discord.sync import force_sync, meta_key, tree_hash, tree_payload
from tests.discord.conftest import World


def syncs(env: Env) -> list[str]:
    """Paths of the command-sync requests made so far."""
    return [r.path for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]


async def stored_hash(bot, guild_id: int | None = None) -> str | None:
    async with bot.uow_factory() as uow:
        return await uow.meta.get(meta_key(guild_id))


async def test_first_start_syncs_globally_and_stores_the_hash(env: Env):
    """A fresh database has no hash: the tree is synced globally and its hash kept."""
    (path,) = syncs(env)
    assert path == f"/applications/{env.bot.application_id}/commands"
    assert await stored_hash(env.bot) == tree_hash(env.bot.tree)


async def test_restart_with_an_unchanged_tree_does_not_sync(world: World, make_bot):
    """A second start over the same database skips the sync, and the commands still work."""
    env = world.env
    await env.restart_bot(make_bot())
    assert len(syncs(env)) == 1
    result = await world.carol.slash(world.general, "opsroom status")
    assert result.acknowledged


async def test_restart_with_a_changed_tree_syncs_again(env: Env, make_bot):
    """When the stored hash differs (new version, new commands), start-up syncs."""
    async with env.bot.uow_factory() as uow:
        await uow.meta.set(meta_key(None), "an older tree")
        await uow.commit()
    await env.restart_bot(make_bot())
    assert len(syncs(env)) == 2


async def test_dev_guild_gets_a_guild_sync(bot):
    """OPSROOM_DEV_GUILD_ID: commands are copied to the guild and synced there only."""
    env = Env(bot)
    guild = env.create_guild("Dev")
    bot.dev_guild_id = guild.id
    await env.start()
    try:
        (path,) = syncs(env)
        assert path == f"/applications/{bot.application_id}/guilds/{guild.id}/commands"
        assert await stored_hash(bot, guild.id) == tree_hash(bot.tree, guild.id)
        assert await stored_hash(bot) is None
        member = guild.add_member(env.create_user("dana"))
        channel = guild.create_text_channel("general")
        result = await member.slash(channel, "incident list")
        assert result.response.content == "No open incidents."
    finally:
        await env.shutdown()


async def test_force_sync_always_syncs(env: Env):
    """`opsroom sync-commands` syncs even when nothing changed, globally or to a guild."""
    guild = env.create_guild("Other")
    assert await force_sync(env.bot) == len(tree_payload(env.bot.tree))
    await force_sync(env.bot, guild.id)
    assert syncs(env)[1:] == [
        f"/applications/{env.bot.application_id}/commands",
        f"/applications/{env.bot.application_id}/guilds/{guild.id}/commands",
    ]
    assert await stored_hash(env.bot, guild.id) == tree_hash(env.bot.tree, guild.id)


async def test_tree_hash_changes_with_the_tree(env: Env):
    """Same tree, same hash; one more command, another hash."""
    before = tree_hash(env.bot.tree)
    assert tree_hash(env.bot.tree) == before

    @app_commands.command(name="extra", description="x")
    async def extra(interaction: discord.Interaction) -> None: ...

    env.bot.tree.add_command(extra)
    assert tree_hash(env.bot.tree) != before


async def test_the_tree_holds_every_command_of_the_product(env: Env):
    """/opsroom, /incident, /timeline, /action with their subcommands, and the message menu."""
    payload = {c["name"]: c for c in tree_payload(env.bot.tree)}
    subcommands = {
        name: sorted(o["name"] for o in payload[name]["options"])
        for name in ("opsroom", "incident", "timeline", "action", "statuspage", "maintenance")
    }
    assert subcommands == {
        "opsroom": ["revoke", "setup", "status", "webhook", "webhooks"],
        "incident": sorted(
            [
                "declare",
                "commander",
                "role",
                "unrole",
                "severity",
                "status",
                "update",
                "resolve",
                "close",
                "milestone",
                "show",
                "list",
                "publish",
            ]
        ),
        "timeline": ["add", "delete", "edit", "show"],
        "action": ["add", "done", "list"],
        "statuspage": ["component", "disable", "enable"],
        "maintenance": ["cancel", "list", "schedule"],
    }
    component = next(o for o in payload["statuspage"]["options"] if o["name"] == "component")
    assert sorted(o["name"] for o in component["options"]) == ["add", "remove", "set"]
    assert payload["Add to timeline"]["type"] == 3
    for command in payload.values():
        assert command.get("contexts") == [0], command["name"]  # guilds only


async def test_client_settings(env: Env):
    """Guild intent only (no message content), no pings by default, the answering tree."""
    bot = env.bot
    assert bot.intents.value == discord.Intents(guilds=True).value
    assert not bot.intents.message_content
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert isinstance(bot.tree, OpsroomTree)
    assert sorted(bot.extensions) == sorted(EXTENSIONS)


def test_point_at_redirects_rest_and_gateway_and_restores():
    """point_at sets Route.BASE and the gateway URL; None puts Discord's back."""
    try:
        point_at("http://127.0.0.1:9000/api/v10/", "ws://127.0.0.1:9001")
        assert Route.BASE == "http://127.0.0.1:9000/api/v10"
        assert Route("GET", "/users/@me").url == "http://127.0.0.1:9000/api/v10/users/@me"
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9001"
    finally:
        point_at(None, None)
    assert Route.BASE == endpoints.DISCORD_API_BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_a_failed_sync_does_not_stop_the_bot(bot, caplog):
    """Discord refusing the sync is logged; the bot still starts and tries again next time."""
    env = Env(bot, check_errors=False)
    env.inject_error(
        "PUT", "/applications/*/commands", status=403, code=50001, message="Missing Access"
    )
    with caplog.at_level("ERROR", logger="bot.adapters.discord.client"):
        await env.start()
    try:
        assert bot.is_ready()
        assert any("slash-command sync" in r.getMessage() for r in caplog.records)
        assert await stored_hash(bot) is None
    finally:
        await env.shutdown()

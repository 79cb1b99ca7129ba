"""`/opsroom webhook`, `/opsroom webhooks`, `/opsroom revoke`: tokens shown once."""

from __future__ import annotations

import re

from bot.core.alerts import AlertSource
from bot.core.errors import NotFoundError
from tests.discord.conftest import World, acknowledge

URL = re.compile(r"```\n(\S+)\n```")


async def test_webhook_shows_its_url_once_with_the_public_base(world: World, make_bot):
    """The URL is `{public_url}/hooks/{source}/{token}`, ephemeral; only the hash is stored."""
    result = await world.carol.slash(world.general, "opsroom webhook", source="alertmanager")
    assert result.ephemeral
    url = URL.search(result.response.content).group(1)
    assert url.startswith("http://localhost:8080/hooks/alertmanager/")
    token = url.rsplit("/", 1)[1]
    found = await world.env.bot.services.webhooks.authenticate(token, AlertSource.ALERTMANAGER)
    assert found.name == "alertmanager" and token not in found.token_hash
    assert "only this once" in result.response.content
    assert "`docs/monitors.md#prometheus-alertmanager`" in result.response.content


async def test_the_public_url_comes_from_the_bot(world: World):
    """`create_bot(public_url=…)` is the base of the shown URL (a trailing slash is dropped)."""
    world.env.bot.public_url = "https://ops.example.org"
    result = await world.carol.slash(world.general, "opsroom webhook", source="events", name="cron")
    assert "https://ops.example.org/hooks/events/" in result.response.content
    assert "`https://ops.example.org/hooks/events` with the token as `routing_key`" in (
        result.response.content
    )


async def allow_everyone(world: World) -> None:
    """The server lets anyone see /opsroom (Discord hides it otherwise); the core still refuses."""
    commands = await world.env.bot.tree.fetch_commands()
    opsroom = next(c for c in commands if c.name == "opsroom")
    world.guild.set_command_permissions(opsroom, {world.alice: True})


async def test_webhook_is_manage_server_only(world: World):
    """A responder without Manage Server gets one ephemeral line and no token exists."""
    await allow_everyone(world)
    result = await world.alice.slash(world.general, "opsroom webhook", source="grafana")
    assert result.ephemeral
    assert result.response.content == "Only members with Manage Server can configure Opsroom."
    assert await world.env.bot.services.webhooks.list(world.guild.id) == []
    acknowledge(world.env)


async def test_webhooks_lists_every_webhook_and_marks_revoked_ones(world: World):
    """Id, name, source, who made it, and active or revoked — never a token."""
    first = await world.carol.slash(world.general, "opsroom webhook", source="uptimerobot")
    await world.carol.slash(world.general, "opsroom webhook", source="events", name="backups")
    revoked = await world.carol.slash(world.general, "opsroom revoke", id=1)
    assert revoked.ephemeral
    assert revoked.response.content == (
        "🗑️ Webhook 1 (uptimerobot) is revoked; its past alerts stay."
    )
    listing = await world.carol.slash(world.general, "opsroom webhooks")
    lines = listing.response.content.splitlines()
    assert listing.ephemeral and lines[0] == "**2 webhooks**"
    assert lines[1].startswith("`1` **uptimerobot** · uptimerobot · made <t:")
    assert lines[1].endswith(":d>") and "🚫 revoked" in lines[1]
    assert lines[2].startswith("`2` **backups** · events") and lines[2].endswith("✅ active")
    token = URL.search(first.response.content).group(1).rsplit("/", 1)[1]
    assert token not in listing.response.content


async def test_revoke_refuses_unknown_and_already_revoked_webhooks(world: World):
    """One ephemeral line naming the id."""
    await world.carol.slash(world.general, "opsroom webhook", source="events")
    await world.carol.slash(world.general, "opsroom revoke", id=1)
    again = await world.carol.slash(world.general, "opsroom revoke", id=1)
    assert again.ephemeral and again.response.content == (
        "There is no active webhook 1 in this server."
    )
    errors = acknowledge(world.env)
    assert isinstance(errors[-1].original, NotFoundError)


async def test_revoke_is_manage_server_only(world: World):
    """A responder cannot revoke; the webhook keeps working."""
    made = await world.carol.slash(world.general, "opsroom webhook", source="events")
    await allow_everyone(world)
    result = await world.alice.slash(world.general, "opsroom revoke", id=1)
    assert result.response.content == "Only members with Manage Server can configure Opsroom."
    token = URL.search(made.response.content).group(1).rsplit("/", 1)[1]
    assert (await world.env.bot.services.webhooks.authenticate(token)).active
    acknowledge(world.env)


async def test_no_webhooks_yet_says_how_to_make_one(world: World):
    """An empty list explains itself."""
    result = await world.carol.slash(world.general, "opsroom webhooks")
    assert result.response.content == "No webhooks yet: make one with `/opsroom webhook`."


async def test_webhook_warns_when_a_hosted_monitor_cannot_reach_the_url(world: World):
    """The default localhost base gets a warning pointing at HTTPS; a public https base none."""
    local = await world.carol.slash(world.general, "opsroom webhook", source="uptimerobot")
    assert "⚠️ OPSROOM_PUBLIC_URL=http://localhost:8080 is reachable from this machine only" in (
        local.response.content
    )
    assert "Webhook 1 (uptimerobot) is ready" in local.response.content
    world.env.bot.public_url = "https://ops.example.org"
    public = await world.carol.slash(world.general, "opsroom webhook", source="events", name="cron")
    assert "⚠️" not in public.response.content
    assert 'Webhook 2 "cron" (events) is ready' in public.response.content

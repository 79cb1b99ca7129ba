"""`/statuspage`, `/maintenance`, `/incident publish` and `update … public` through the real
command tree: who may do what, and what each answer says."""

from __future__ import annotations

import pytest

from bot.core.statuspage import ComponentState, PublicStatus
from tests.discord.conftest import World, acknowledge, declare


@pytest.fixture
async def paged(ready: World) -> World:
    """Set up, with a page (carol, Manage Server) and two components (alice, responder)."""
    result = await ready.carol.slash(ready.general, "statuspage enable", slug="acme", title="Acme")
    assert result.ephemeral and "http://localhost:8080/status/acme" in result.response.content
    for name in ("API", "Web"):
        result = await ready.alice.slash(
            ready.general, "statuspage component add", name=name, group="Core"
        )
        assert result.response.content == f"Component **{name}** added under Core."
    return ready


async def refused(world: World, actor, command: str, **options) -> str:  # noqa: ANN001
    """Run a command expected to be refused: one ephemeral line, recorded as a refusal."""
    result = await actor.slash(world.general, command, **options)
    acknowledge(world.env)
    assert result.ephemeral, result
    text = result.response.content
    assert "\n" not in text
    return text


async def test_enable_and_components_need_the_right_people(paged: World) -> None:
    """Enable/disable: Manage Server; components: responders; watchers are refused."""
    text = await refused(paged, paged.alice, "statuspage enable", slug="mine")
    assert text == "Only members with Manage Server can configure Opsroom."
    text = await refused(paged, paged.bob, "statuspage component add", name="Email")
    assert "Responders" in text or "role" in text
    text = await refused(
        paged, paged.bob, "maintenance schedule", title="x", start="+1h", end="+2h"
    )
    assert "role" in text
    text = await refused(paged, paged.alice, "statuspage component add", name="api")
    assert text == "There is already a component called 'api'."


async def test_publish_and_public_updates_from_discord(paged: World, services) -> None:
    """The commander publishes and posts a public update; the answers say where it went."""
    channel = await declare(paged, "INTERNAL db primary oom")
    result = await paged.alice.slash(
        channel, "incident publish", title="Slow API", components="API", impact="major"
    )
    assert not result.ephemeral
    assert result.response.content == (
        "🌐 Published as **Slow API** (major) on http://localhost:8080/status/acme."
    )
    result = await paged.alice.slash(channel, "incident update", text="We are on it.", public=True)
    assert (
        result.response.content
        == "📣 Update on **#1 INTERNAL db primary oom** posted and on the status page: "
        "We are on it."
    )
    [public] = await services.statuspage.history(paged.guild.id)
    assert [u.body for u in public.updates][0] == "We are on it."
    assert public.status is PublicStatus.INVESTIGATING
    states = {c.name: c.state for c in await services.statuspage.components(paged.guild.id)}
    assert states == {"API": ComponentState.PARTIAL_OUTAGE, "Web": ComponentState.OPERATIONAL}
    result = await paged.alice.slash(channel, "incident resolve")
    [public] = await services.statuspage.history(paged.guild.id)
    assert public.status is PublicStatus.RESOLVED


async def test_only_commander_or_comms_may_publish(paged: World, services) -> None:
    """Another responder (even one with Manage Server) is refused until given comms."""
    channel = await declare(paged, "Outage")
    await paged.env.bot.services.guilds.get(paged.guild.id)
    text = await refused(paged, paged.carol, "incident publish", title="x", incident=1)
    assert text.startswith("Only the commander or comms of #1 Outage can publish")
    await paged.alice.slash(channel, "incident publish", title="Public outage")
    text = await refused(
        paged, paged.carol, "incident update", text="leak", public=True, incident=1
    )
    assert text.startswith("Only the commander or comms")
    result = await paged.alice.slash(channel, "incident role", user=paged.carol, role="comms")
    assert result.acknowledged
    result = await paged.carol.slash(channel, "incident update", text="fine now", public=True)
    assert not result.ephemeral
    [public] = await services.statuspage.history(paged.guild.id)
    assert "leak" not in [u.body for u in public.updates]
    assert public.updates[0].body == "fine now"


async def test_publish_refusals_are_one_readable_line(paged: World) -> None:
    """Unknown components; updates before publishing; no page at all."""
    channel = await declare(paged, "Outage")
    text = await refused(
        paged, paged.alice, "incident publish", title="x", components="Nope", incident=1
    )
    assert text == "Unknown component 'Nope'; the components are: API, Web."
    text = await refused(paged, paged.alice, "incident update", text="x", public=True, incident=1)
    assert text.startswith("#1 Outage is not on the status page yet")
    await paged.carol.slash(paged.general, "statuspage disable")
    text = await refused(paged, paged.alice, "incident publish", title="x", incident=1)
    assert text.startswith("This server has no status page")
    assert channel is not None


async def test_enable_refuses_a_channel_that_cannot_publish(paged: World) -> None:
    """`announcements` must be an announcement channel (its posts are published)."""
    result = await paged.carol.slash(
        paged.general, "statuspage enable", slug="acme", announcements=paged.general
    )
    assert result.ephemeral and "is not an announcement channel" in result.response.content


async def test_maintenance_schedule_list_cancel(paged: World) -> None:
    """Scheduled publicly, listed privately, cancelled; a wrong id is one line."""
    result = await paged.alice.slash(
        paged.general,
        "maintenance schedule",
        title="DB upgrade",
        start="+1h",
        end="+2h",
        components="Web",
        monitors="db",
    )
    assert not result.ephemeral
    assert result.response.content.startswith("🛠️ Maintenance scheduled: **1** · DB upgrade · <t:")
    assert result.response.content.endswith("components: Web · monitors: db")
    result = await paged.bob.slash(paged.general, "maintenance list")  # anyone may read
    assert result.ephemeral and "DB upgrade" in result.response.content
    result = await paged.alice.slash(paged.general, "maintenance cancel", id=1)
    assert result.response.content == "Maintenance **1** (DB upgrade) cancelled."
    text = await refused(paged, paged.alice, "maintenance cancel", id=7)
    assert text == "There is no maintenance 7 in this server."
    text = await refused(
        paged, paged.alice, "maintenance schedule", title="x", start="+2h", end="+1h"
    )
    assert text == "The maintenance must end after it starts."

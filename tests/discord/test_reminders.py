"""Fired reminders reach the working channel, pinging exactly the one person they are for."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.adapters.discord import limits
from bot.adapters.discord.reminders import action_due_text
from bot.core.model import ActionItem, ActionKind, Incident, Person, Severity, Status
from bot.core.reminders import ReminderKind
from tests.discord.conftest import World, declare
from tests.discord.test_incidents import thread_lines, thread_of

T_DECLARED = 1772366400  # 2026-03-01 12:00 UTC, the core's clock


def bot_posts(world: World, channel) -> list:
    """The bot's POSTs of messages into a channel, as sent over HTTP."""
    return [
        r.json
        for r in world.env.http_requests
        if r.method == "POST" and r.path == f"/channels/{channel.id}/messages"
    ]


async def fire(world: World, clock, **delta) -> list[ReminderKind]:
    """Move the core's clock, run the reminder sweep, let the relay deliver."""
    clock.advance(**delta)
    fired = await world.env.bot.services.reminders.fire_due()
    await world.env.settle()
    return [r.kind for r in fired]


async def test_due_update_nudge_pings_only_the_commander_in_the_working_channel(
    ready: World, clock
):
    """15 minutes without an update on a sev1: one nudge, pinging alice and nobody else."""
    channel = await declare(ready, "@everyone Database down", commander=ready.alice)
    assert await fire(ready, clock, minutes=14) == []
    assert await fire(ready, clock, minutes=1) == [ReminderKind.UPDATE_NUDGE]
    (nudge,) = [m for m in channel.history() if m.content.startswith("⏰")]
    assert nudge.content.startswith(f"⏰ <@{ready.alice.id}>: no status update on **#1 @everyone")
    assert f"since it was declared, <t:{T_DECLARED}:R> (sev1: one every 15 min)" in nudge.content
    assert "`/incident update`" in nudge.content
    (sent,) = [p for p in bot_posts(ready, channel) if (p.get("content") or "").startswith("⏰")]
    assert sent["allowed_mentions"] == {"parse": [], "users": [ready.alice.id]}
    assert not any("⏰" in line for line in thread_lines(thread_of(ready)))


async def test_the_nudge_pings_whoever_commands_now(ready: World, clock):
    """Command handed to carol after declaring: the nudge pings carol, not alice."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "incident commander", user=ready.carol)
    await fire(ready, clock, minutes=15)
    (sent,) = [p for p in bot_posts(ready, channel) if (p.get("content") or "").startswith("⏰")]
    assert sent["content"].startswith(f"⏰ <@{ready.carol.id}>:")
    assert sent["allowed_mentions"]["users"] == [ready.carol.id]


async def test_an_update_stops_the_nudges_in_discord(ready: World, clock):
    """`/incident update` at 10 min: nothing at 15, a nudge at 25 that names the last update."""
    channel = await declare(ready)
    clock.advance(minutes=10)
    await ready.alice.slash(channel, "incident update", text="Failing over")
    assert await fire(ready, clock, minutes=5) == []
    assert await fire(ready, clock, minutes=10) == [ReminderKind.UPDATE_NUDGE]
    (nudge,) = [m for m in channel.history() if m.content.startswith("⏰")]
    assert f"since the last update, <t:{T_DECLARED + 600}:R>" in nudge.content


async def test_a_nudge_made_stale_before_delivery_is_not_posted(ready: World, clock, doorbell):
    """Fired, then an update arrives before the relay ran: the stale nudge is skipped."""
    channel = await declare(ready)
    doorbell.target = None  # hold delivery back
    clock.advance(minutes=15)
    assert len(await ready.env.bot.services.reminders.fire_due()) == 1
    await ready.alice.slash(channel, "incident update", text="Found it")
    ready.env.bot.notifier.wake()
    await ready.env.settle()
    assert not [m for m in channel.history() if m.content.startswith("⏰")]


async def test_close_nudge_after_a_day_pings_nobody(ready: World, clock):
    """Resolved and left for 24 h: a close reminder in the working channel, no pings at all."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "incident resolve")
    assert await fire(ready, clock, hours=24) == [ReminderKind.CLOSE_NUDGE]
    (sent,) = [p for p in bot_posts(ready, channel) if (p.get("content") or "").startswith("📋")]
    assert "was resolved" in sent["content"] and "`/incident close`" in sent["content"]
    assert sent["allowed_mentions"] == {"parse": []}


async def test_action_due_pings_its_owner(ready: World, clock):
    """An item owned by bob due tomorrow: at 09:00 (UTC guild) bob is pinged, only bob."""
    channel = await declare(ready, severity="sev4")
    await ready.alice.slash(
        channel, "action add", text="Add a lag alert", owner=ready.bob, due="+1d"
    )
    assert await fire(ready, clock, hours=21) == [ReminderKind.ACTION_DUE]  # 2026-03-02 09:00
    (sent,) = [p for p in bot_posts(ready, channel) if (p.get("content") or "").startswith("📌")]
    assert sent["content"].startswith(
        f"📌 <@{ready.bob.id}>: action item `1` of **#1 Database down** is due 2026-03-02: "
        "Add a lag alert"
    )
    assert sent["allowed_mentions"] == {"parse": [], "users": [ready.bob.id]}


def test_a_long_action_text_fits_one_message():
    """A 4000-character action is cut so the reminder stays within 2000 characters."""
    incident = Incident(
        guild_id=1,
        number=3,
        title="x" * 200,
        severity=Severity.SEV2,
        status=Status.CLOSED,
        declared_by=Person(1, "a"),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        detected_at=datetime(2026, 1, 1, tzinfo=UTC),
        declared_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    action = ActionItem(
        incident_id=1,
        text="word " * 800,
        kind=ActionKind.PREVENT,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by=Person(1, "a"),
        due=date(2026, 1, 9),
        seq=4,
    )
    text = action_due_text(incident, action)
    assert len(text) <= limits.CONTENT and text.endswith("It has no owner yet.")
    assert "word word" in text and limits.ELLIPSIS in text

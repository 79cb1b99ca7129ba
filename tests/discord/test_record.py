"""The truthful record in Discord: entry kinds, `/incident milestone`, declaring from an alert
acknowledges it, and pages on the incident's timeline."""

from __future__ import annotations

from bot.core.errors import ValidationError
from bot.core.model import Member, Person
from bot.core.services import IncidentRef
from tests.discord.conftest import World, acknowledge, declare
from tests.discord.test_alert_relay import ingest, posts, signal
from tests.discord.test_incidents import thread_lines, thread_of
from tests.discord.test_timeline import unix


async def incident(world: World):
    """#1 as stored now."""
    return await world.env.bot.services.incidents.get(world.guild.id, IncidentRef(number=1))


async def test_add_with_a_kind_shows_it_in_the_thread_and_in_show(ready: World):
    """A report entry says it is a report, in the answer, the thread and `/timeline show`."""
    channel = await declare(ready)
    result = await ready.alice.slash(
        channel, "timeline add", text="Users say the site is slow", at="11:50", kind="report"
    )
    assert result.response.content == f"🗣️ Entry 2 added as report at <t:{unix(11, 50)}:f>."
    await ready.env.settle()
    lines = thread_lines(thread_of(ready))
    assert f"`2` <t:{unix(11, 50)}:T> 🗣️ *report* · **alice**: Users say the site is slow" in lines
    shown = await ready.bob.slash(channel, "timeline show")
    assert "🗣️ *report* · **alice**: Users say the site is slow" in shown.response.content
    assert (await incident(ready)).detected_at.timestamp() == unix(11, 50)  # the report's time


async def test_edit_changes_a_note_into_evidence_and_back_detection_follows(ready: World):
    """A report re-marked as evidence no longer counts: detection goes back to the declaration."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "timeline add", text="ERROR disk full", at="11:30")
    assert (await incident(ready)).detected_at.timestamp() == unix(12, 0)  # a note is no report
    await ready.alice.slash(channel, "timeline edit", id=2, kind="report")
    assert (await incident(ready)).detected_at.timestamp() == unix(11, 30)
    result = await ready.alice.slash(channel, "timeline edit", id=2, kind="evidence")
    assert result.response.content == "✏️ Entry 2 edited (now an evidence entry)."
    assert (await incident(ready)).detected_at.timestamp() == unix(12, 0)
    await ready.env.settle()
    moves = [line for line in thread_lines(thread_of(ready)) if "📍" in line]
    assert len(moves) == 3  # detected earlier, impact began earlier, detected back again
    assert "Detected: 2026-03-01 11:30:00 UTC → 2026-03-01 12:00:00 UTC" in moves[-1]


async def test_milestone_sets_a_time_and_refuses_impossible_ones_in_one_line(ready: World):
    """`/incident milestone` corrects a time; a future or out-of-order time is refused."""
    channel = await declare(ready)
    done = await ready.alice.slash(channel, "incident milestone", name="started", at="11:20")
    assert done.response.content == (
        f"📍 Impact started of **#1 Database down** is now <t:{unix(11, 20)}:f>; it stays as set."
    )
    future = await ready.alice.slash(channel, "incident milestone", name="detected", at="13:00")
    assert future.ephemeral and "\n" not in future.response.content
    early = await ready.alice.slash(channel, "incident milestone", name="detected", at="11:00")
    assert early.ephemeral
    assert early.response.content.startswith("Detected cannot be before impact started")
    open_ = await ready.alice.slash(channel, "incident milestone", name="resolved", at="11:40")
    assert open_.response.content.startswith("Incident #1 Database down is not resolved yet")
    errors = acknowledge(ready.env)
    assert len(errors) == 3 and isinstance(errors[1].original, ValidationError)
    await ready.env.settle()
    assert any(
        "Impact started: 2026-03-01 12:00:00 UTC → 2026-03-01 11:20:00 UTC (set by alice)" in line
        for line in thread_lines(thread_of(ready))
    )


async def test_declaring_from_the_card_acknowledges_the_alert_and_stops_pages(ready: World, clock):
    """The card's Declare button takes the alert in the declarer's name: no ping follows."""
    (result,) = await ingest(ready, signal())
    (card,) = posts(ready)
    shown = await ready.alice.click(card, label="Declare incident")
    await ready.alice.submit_modal(shown, {"title": "Disk full", "severity": ["sev2"]})
    alert = await ready.env.bot.services.alerts.get(ready.guild.id, result.alert.id)
    assert alert.acknowledged_by is not None and alert.acknowledged_by.name == "alice"
    assert alert.next_escalation_at is None
    clock.advance(minutes=30)
    assert await ready.env.bot.services.alerts.escalate_due() == []


async def test_an_escalation_ping_before_attaching_is_on_the_timeline(ready: World, clock):
    """A page sent while the alert was unattached joins the timeline, at its time, on attach."""
    (result,) = await ingest(ready, signal())
    clock.advance(minutes=5)
    escalated = await ready.env.bot.services.alerts.escalate_due()
    assert [a.id for a, _ in escalated] == [result.alert.id]
    channel = await declare(ready)
    alice = Member(Person(ready.alice.id, "alice"), frozenset({ready.responders.id}))
    await ready.env.bot.services.alerts.attach(
        ready.guild.id, alice, result.alert.id, IncidentRef(number=1)
    )
    shown = await ready.bob.slash(channel, "timeline show")
    text = "📟 Escalation 1: paged no one (no on-call role is set) for alert: Disk 97% full on db1"
    assert text in shown.response.content

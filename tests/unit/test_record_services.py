"""The record through the services: kinds move detection, hand-set milestones, pages on the
timeline, notices following their monitor's incident."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.alerts import AlertSignal, AlertSource
from bot.core.alerts import SignalAction as A
from bot.core.errors import ValidationError
from bot.core.milestones import MilestoneName
from bot.core.model import EntryKind, EntrySource, Severity
from bot.core.pages import PageTarget
from bot.core.services import IncidentRef, ingest_signals
from tests.unit.conftest import GUILD


def sig(stream="123", *, action=A.TRIGGER, notice=False, title="shop is down"):
    """An UptimeRobot-like notification for monitor 123 (its notice stream is `123:expiry`)."""
    return AlertSignal(
        AlertSource.UPTIMEROBOT,
        action,
        stream,
        monitor="shop",
        title=title,
        escalates=not notice,
        notice=notice,
    )


@pytest.fixture
async def webhook(services, admin):
    hook, _ = await services.webhooks.create(GUILD, AlertSource.UPTIMEROBOT, "ur", admin)
    return hook


async def ingest(db, clock, webhook, *signals):
    async with db.uow() as uow:
        results = await ingest_signals(uow, webhook, signals, clock.now())
        await uow.commit()
    return results


async def declare(services, responder):
    inc = await services.incidents.declare(
        GUILD, responder, title="Shop down", severity=Severity.SEV2
    )
    return inc, IncidentRef(inc.number)


async def test_a_backdated_report_moves_detection_and_says_so(services, clock, responder):
    """A report 12 minutes back is the detection; the change is an entry naming who caused it."""
    inc, ref = await declare(services, responder)
    clock.advance(minutes=1)
    await services.timeline.add(
        GUILD, responder, ref, "logs show errors", at="-20m", kind=EntryKind.EVIDENCE
    )
    assert (await services.incidents.get(GUILD, ref)).detected_at == inc.declared_at
    report = await services.timeline.add(
        GUILD, responder, ref, "users complain", at="-12m", kind=EntryKind.REPORT
    )
    now = await services.incidents.get(GUILD, ref)
    assert now.detected_at == report.event_at == inc.declared_at - timedelta(minutes=11)
    moves = [e for e in await services.timeline.show(GUILD, ref) if e.kind is EntryKind.MILESTONE]
    assert [e.source for e in moves] == [EntrySource.SYSTEM, EntrySource.SYSTEM]
    assert (
        moves[0].text.startswith("Detected: ")
        and "from report entry 3, after a change by alice" in moves[0].text
    )
    assert moves[0].author == responder.person


async def test_editing_a_kind_moves_detection_and_keeps_the_old_kind(
    services, db, clock, responder
):
    """A note marked as a report counts; the audit trail keeps that it was a note."""
    inc, ref = await declare(services, responder)
    note = await services.timeline.add(GUILD, responder, ref, "someone tweeted", at="-5m")
    assert (await services.incidents.get(GUILD, ref)).detected_at == inc.declared_at
    await services.timeline.edit(GUILD, responder, ref, note.seq, kind=EntryKind.REPORT)
    assert (await services.incidents.get(GUILD, ref)).detected_at == note.event_at
    (revision,) = db.store.revisions
    assert revision.old_kind is EntryKind.NOTE and revision.old_text == "someone tweeted"
    with pytest.raises(ValidationError, match="only people's entries change kind"):
        await services.timeline.edit(GUILD, responder, ref, 1, kind=EntryKind.NOTE)  # declared
    with pytest.raises(ValidationError, match="Nothing to change"):
        await services.timeline.edit(GUILD, responder, ref, note.seq)
    with pytest.raises(ValidationError, match="one of note, report"):
        await services.timeline.add(GUILD, responder, ref, "x", kind=EntryKind.MILESTONE)


async def test_a_milestone_set_by_hand_is_on_the_timeline_and_stays(services, clock, responder):
    """`/incident milestone`: from what to what, by whom; a later report does not move it."""
    inc, ref = await declare(services, responder)
    clock.advance(minutes=1)
    await services.incidents.set_milestone(GUILD, responder, ref, MilestoneName.STARTED, "-30m")
    changed = await services.incidents.set_milestone(
        GUILD, responder, ref, MilestoneName.DETECTED, "-10m"
    )
    assert changed.by_hand == {"started", "detected"}
    await services.timeline.add(
        GUILD, responder, ref, "earlier report", at="-20m", kind=EntryKind.REPORT
    )
    assert (await services.incidents.get(GUILD, ref)).detected_at == changed.detected_at
    last = [e for e in await services.timeline.show(GUILD, ref) if e.kind is EntryKind.MILESTONE]
    assert [e.source for e in last] == [EntrySource.COMMAND, EntrySource.COMMAND]
    assert last[-1].text.endswith("(set by alice)") and last[-1].author == responder.person
    with pytest.raises(ValidationError, match="is in the future"):
        await services.incidents.set_milestone(
            GUILD, responder, ref, MilestoneName.STARTED, "2099-01-01T00:00Z"
        )


async def test_every_escalation_step_is_a_page_and_on_the_timeline(
    services, db, clock, webhook, responder
):
    """Pages sent before attaching join the timeline at their time; later ones at once."""
    [result] = await ingest(db, clock, webhook, sig())
    alert_id = result.alert.id
    clock.advance(minutes=5)
    first = clock.now()
    assert len(await services.alerts.escalate_due()) == 1
    inc, ref = await declare(services, responder)
    await services.alerts.attach(GUILD, responder, alert_id, ref)
    clock.advance(minutes=5)
    assert len(await services.alerts.escalate_due()) == 1
    pages = sorted(db.store.pages.values(), key=lambda p: p.sent_at)
    assert [(p.level, p.target, p.target_id, p.target_name) for p in pages] == [
        (1, PageTarget.ROLE, 901, "on-call role"),
        (2, PageTarget.ROLE, 901, "on-call role"),
    ]
    entries = [e for e in await services.timeline.show(GUILD, ref) if e.kind is EntryKind.PAGE]
    assert [e.event_at for e in entries] == [first, clock.now()]
    assert entries[0].text == "Escalation 1: paged on-call role for alert: shop is down"
    await services.alerts.acknowledge(GUILD, responder, alert_id)
    data = await services.postmortem.draft(GUILD, ref)
    assert [(p.level, p.answered, p.by, p.after) for p in data.pages] == [
        (1, True, "alice", "5m"),
        (2, True, "alice", "0s"),
    ]


async def test_an_unanswered_page_stays_unanswered_when_the_alert_resolves(
    services, db, clock, webhook, responder
):
    """Nobody acknowledged: the draft says so, whatever happened later."""
    [result] = await ingest(db, clock, webhook, sig())
    clock.advance(minutes=5)
    await services.alerts.escalate_due()
    inc, ref = await declare(services, responder)
    await services.alerts.attach(GUILD, responder, result.alert.id, ref)
    await ingest(db, clock, webhook, sig(action=A.RESOLVE))
    (page,) = (await services.postmortem.draft(GUILD, ref)).pages
    assert (page.answered, page.outcome) == (False, "not answered")


async def test_an_expiry_notice_follows_its_monitors_open_incident(
    services, db, clock, webhook, responder
):
    """The notice joins the incident its monitor's alert is attached to, shown as a notice."""
    [down] = await ingest(db, clock, webhook, sig())
    inc, ref = await declare(services, responder)
    await services.alerts.attach(GUILD, responder, down.alert.id, ref)
    clock.advance(minutes=2)
    [notice] = await ingest(
        db, clock, webhook, sig("123:expiry", notice=True, title="shop: SSL expires in 3 days")
    )
    assert db.store.alerts[notice.alert.id].incident_id == inc.id
    texts = [e.text for e in await services.timeline.show(GUILD, ref)]
    assert "Notice: shop: SSL expires in 3 days (shop)" in texts
    rows = {a.title: a for a in (await services.postmortem.draft(GUILD, ref)).alerts}
    assert rows["shop: SSL expires in 3 days"].state == "notice"
    assert rows["shop is down"].state == "firing"
    [other] = await ingest(db, clock, webhook, sig("999:expiry", notice=True))
    assert db.store.alerts[other.alert.id].incident_id is None  # another monitor's notice

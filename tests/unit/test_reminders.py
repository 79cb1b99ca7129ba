"""Reminders over the fakes with a hand-moved clock: when due, what ends them, firing once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.events import Event, Topic
from bot.core.model import (
    ActionItem,
    ActionKind,
    ActionStatus,
    GuildConfig,
    Person,
    Severity,
    Status,
)
from bot.core.reminders import (
    Reminder,
    ReminderKind,
    Sweep,
    Timer,
    Verdict,
    action_due_at,
    decide,
    still_wanted,
    update_cadence,
)
from bot.core.services import IncidentRef, ingest_signals
from tests.unit.conftest import GUILD

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the FakeClock's start
UPDATE = ReminderKind.UPDATE_NUDGE
CLOSE = ReminderKind.CLOSE_NUDGE
ACTION = ReminderKind.ACTION_DUE


async def declare(services, actor, severity=Severity.SEV1, title="API down"):
    """Declare an incident in GUILD at the clock's time."""
    return await services.incidents.declare(GUILD, actor, title=title, severity=severity)


def pending(db, kind=None):
    """Pending reminders in the committed store, optionally of one kind."""
    return [
        r for r in db.store.reminders.values() if r.pending and (kind is None or r.kind is kind)
    ]


def due_times(db, kind):
    """Due times of the pending reminders of a kind."""
    return [r.due_at for r in pending(db, kind)]


async def fire_at(services, clock, **delta):
    """Move the clock to START + delta and sweep; returns the kinds that fired."""
    clock.current = START + timedelta(**delta)
    return [r.kind for r in await services.reminders.fire_due()]


def reminder_events(db):
    """REMINDER_DUE events waiting in the outbox."""
    return [e for e in db.events() if e.topic is Topic.REMINDER_DUE]


async def fire_alert(db, clock, webhook):
    """One Events v2 trigger, committed as the webhook path would."""
    signal = AlertSignal(AlertSource.EVENTS, SignalAction.TRIGGER, "db", "db", "DB down")
    async with db.uow() as uow:
        await ingest_signals(uow, webhook, [signal], clock.now())
        await uow.commit()


async def test_declare_schedules_an_update_nudge_one_cadence_later(services, db, responder):
    """sev1: the first nudge is due 15 minutes after the declaration."""
    incident = await declare(services, responder)
    (reminder,) = pending(db)
    assert (reminder.kind, reminder.subject_id, reminder.incident_id) == (
        UPDATE,
        incident.id,
        incident.id,
    )
    assert reminder.due_at == START + timedelta(minutes=15)
    assert reminder.created_at == START and reminder.guild_id == GUILD


@pytest.mark.parametrize(
    ("severity", "minutes"),
    [(Severity.SEV1, 15), (Severity.SEV2, 30), (Severity.SEV3, 60), (Severity.SEV4, None)],
)
async def test_each_severity_has_its_cadence(services, db, responder, severity, minutes):
    """15, 30 and 60 minutes for sev1–3; sev4 is never nudged."""
    await declare(services, responder, severity)
    expected = [] if minutes is None else [START + timedelta(minutes=minutes)]
    assert due_times(db, UPDATE) == expected


async def test_a_guild_override_of_the_cadence_is_used(services, db, responder):
    """A guild that wants sev2 updates every 10 minutes gets nudged after 10."""
    db.store.guilds[GUILD].update_cadence_minutes[Severity.SEV2] = 10
    await declare(services, responder, Severity.SEV2)
    assert due_times(db, UPDATE) == [START + timedelta(minutes=10)]


async def test_nudge_fires_at_the_cadence_and_not_before(services, db, clock, responder):
    """Nothing at 14:59 after declaring; one nudge at 15:00 with its outbox event."""
    await declare(services, responder)
    assert await fire_at(services, clock, minutes=14, seconds=59) == []
    assert reminder_events(db) == []
    assert await fire_at(services, clock, minutes=15) == [UPDATE]
    (fired,) = [r for r in db.store.reminders.values() if r.fired_at]
    assert fired.fired_at == START + timedelta(minutes=15)
    assert reminder_events(db) == [Event(Topic.REMINDER_DUE, GUILD, fired.id)]


async def test_each_reminder_fires_once_however_often_the_sweep_runs(
    services, db, clock, responder
):
    """Sweeping again at the same moment, or a little later, fires nothing more."""
    await declare(services, responder)
    assert await fire_at(services, clock, minutes=15) == [UPDATE]
    assert await fire_at(services, clock, minutes=15) == []
    assert await fire_at(services, clock, minutes=29) == []
    assert len(reminder_events(db)) == 1


async def test_nudging_continues_every_cadence_until_someone_updates(
    services, db, clock, responder
):
    """Fired at 15 and 30 and 45; each firing schedules the next a cadence later."""
    await declare(services, responder)
    fired = [await fire_at(services, clock, minutes=m) for m in (15, 30, 45)]
    assert fired == [[UPDATE], [UPDATE], [UPDATE]]
    assert due_times(db, UPDATE) == [START + timedelta(minutes=60)]
    assert len(reminder_events(db)) == 3


async def test_a_missed_sweep_fires_once_then_counts_from_then(services, db, clock, responder):
    """Down for two hours: one nudge on return (no burst of eight), the next 15 min later."""
    await declare(services, responder)
    assert await fire_at(services, clock, hours=2) == [UPDATE]
    assert due_times(db, UPDATE) == [START + timedelta(hours=2, minutes=15)]


async def test_an_update_resets_the_nudge(services, db, clock, responder):
    """An update at 10 min moves the nudge to 25 min: nothing at 15, one at 25."""
    incident = await declare(services, responder)
    clock.current = START + timedelta(minutes=10)
    await services.incidents.post_update(GUILD, responder, IncidentRef(incident.number), "Found it")
    assert due_times(db, UPDATE) == [START + timedelta(minutes=25)]
    assert await fire_at(services, clock, minutes=15) == []
    assert await fire_at(services, clock, minutes=25) == [UPDATE]


async def test_an_update_after_a_nudge_restarts_the_cadence(services, db, clock, responder):
    """After a nudge at 15 the commander updates at 20; the next nudge is at 35, not 30."""
    incident = await declare(services, responder)
    await fire_at(services, clock, minutes=15)
    clock.current = START + timedelta(minutes=20)
    await services.incidents.post_update(GUILD, responder, IncidentRef(incident.number), "Better")
    assert await fire_at(services, clock, minutes=30) == []
    assert await fire_at(services, clock, minutes=35) == [UPDATE]


async def test_resolving_stops_the_nudges(services, db, clock, responder):
    """Resolved at 10 min: no update nudge ever fires afterwards."""
    incident = await declare(services, responder)
    clock.current = START + timedelta(minutes=10)
    await services.incidents.resolve(GUILD, responder, IncidentRef(incident.number))
    assert pending(db, UPDATE) == []
    assert UPDATE not in await fire_at(services, clock, hours=23)


async def test_closing_an_open_incident_stops_the_nudges(services, db, clock, responder):
    """Straight to closed: neither nudge is left pending."""
    incident = await declare(services, responder)
    await services.incidents.close(GUILD, responder, IncidentRef(incident.number))
    assert pending(db) == []


async def test_moving_between_open_statuses_keeps_the_nudge(services, db, clock, responder):
    """investigating → monitoring is still an open incident: the nudge stays where it was."""
    incident = await declare(services, responder)
    clock.current = START + timedelta(minutes=5)
    await services.incidents.set_status(
        GUILD, responder, IncidentRef(incident.number), Status.MONITORING
    )
    assert due_times(db, UPDATE) == [START + timedelta(minutes=15)]


async def test_a_severity_change_reschedules_with_the_new_cadence(services, db, clock, responder):
    """sev1 lowered to sev3 at 5 min: no nudge at 15, one at 65 (60 from the change)."""
    incident = await declare(services, responder)
    clock.current = START + timedelta(minutes=5)
    await services.incidents.set_severity(
        GUILD, responder, IncidentRef(incident.number), Severity.SEV3
    )
    assert due_times(db, UPDATE) == [START + timedelta(minutes=65)]
    assert await fire_at(services, clock, minutes=15) == []
    assert await fire_at(services, clock, minutes=65) == [UPDATE]


async def test_lowering_to_sev4_cancels_and_raising_again_restarts(services, db, clock, responder):
    """sev4 has no cadence: the nudge is cancelled; back to sev2 at 1 h, due at 1 h 30."""
    incident = await declare(services, responder)
    ref = IncidentRef(incident.number)
    await services.incidents.set_severity(GUILD, responder, ref, Severity.SEV4)
    assert pending(db) == []
    assert (await services.reminders.for_incident(incident.id))[0].cancelled_at == START
    clock.current = START + timedelta(hours=1)
    await services.incidents.set_severity(GUILD, responder, ref, Severity.SEV2)
    assert due_times(db, UPDATE) == [START + timedelta(hours=1, minutes=30)]


async def test_close_nudge_fires_once_24_hours_after_resolving(services, db, clock, responder):
    """Resolved and left alone: one close nudge at +24 h, none after."""
    incident = await declare(services, responder)
    clock.current = START + timedelta(minutes=10)
    await services.incidents.resolve(GUILD, responder, IncidentRef(incident.number))
    assert due_times(db, CLOSE) == [START + timedelta(hours=24, minutes=10)]
    assert await fire_at(services, clock, hours=24) == []
    assert await fire_at(services, clock, hours=24, minutes=10) == [CLOSE]
    assert await fire_at(services, clock, hours=72) == []
    assert pending(db) == []


async def test_closing_cancels_the_close_nudge(services, db, clock, responder):
    """Resolved, then closed an hour later: nothing fires at +24 h."""
    incident = await declare(services, responder)
    ref = IncidentRef(incident.number)
    await services.incidents.resolve(GUILD, responder, ref)
    clock.current = START + timedelta(hours=1)
    await services.incidents.close(GUILD, responder, ref)
    assert pending(db) == []
    assert await fire_at(services, clock, hours=30) == []


async def test_reopening_cancels_the_close_nudge_and_nudges_for_updates_again(
    services, db, clock, responder
):
    """Resolved, then back to investigating at 2 h: no close nudge, an update nudge at 2:15."""
    incident = await declare(services, responder)
    ref = IncidentRef(incident.number)
    await services.incidents.resolve(GUILD, responder, ref)
    clock.current = START + timedelta(hours=2)
    await services.incidents.set_status(GUILD, responder, ref, Status.INVESTIGATING)
    assert pending(db, CLOSE) == []
    assert due_times(db, UPDATE) == [START + timedelta(hours=2, minutes=15)]
    assert await fire_at(services, clock, hours=2, minutes=15) == [UPDATE]


async def test_a_closed_incident_moved_back_to_resolved_gets_a_new_close_nudge(
    services, db, clock, responder
):
    """Closed then moved back to resolved at 3 h: the close nudge counts from 3 h."""
    incident = await declare(services, responder)
    ref = IncidentRef(incident.number)
    await services.incidents.close(GUILD, responder, ref)
    clock.current = START + timedelta(hours=3)
    await services.incidents.set_status(GUILD, responder, ref, Status.RESOLVED)
    assert due_times(db, CLOSE) == [START + timedelta(hours=27)]
    assert pending(db, UPDATE) == []


async def test_action_due_reminds_at_nine_in_the_guild_timezone(services, db, clock, responder):
    """Due 2026-03-03 in Europe/Berlin (UTC+1 in March): reminded at 08:00 UTC that day, once."""
    incident = await declare(services, responder, Severity.SEV4)
    action = await services.actions.add(
        GUILD,
        responder,
        IncidentRef(incident.number),
        "Add a disk alert",
        owner=Person(7, "dave"),
        due="2026-03-03",
    )
    (reminder,) = pending(db, ACTION)
    assert reminder.subject_id == action.id
    assert reminder.due_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert await fire_at(services, clock, days=1, hours=19, minutes=59) == []
    assert await fire_at(services, clock, days=1, hours=20) == [ACTION]
    assert await fire_at(services, clock, days=5) == []


def test_action_due_time_follows_daylight_saving():
    """09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer."""
    berlin = ZoneInfo("Europe/Berlin")
    assert action_due_at(date(2026, 1, 15), berlin) == datetime(2026, 1, 15, 8, tzinfo=UTC)
    assert action_due_at(date(2026, 7, 15), berlin) == datetime(2026, 7, 15, 7, tzinfo=UTC)


async def test_an_action_done_before_its_date_is_not_chased(services, db, clock, responder):
    """Marked done the day before: the reminder is cancelled and never fires."""
    incident = await declare(services, responder, Severity.SEV4)
    ref = IncidentRef(incident.number)
    action = await services.actions.add(GUILD, responder, ref, "Rotate keys", due="+2d")
    await services.actions.done(GUILD, responder, ref, action.seq)
    assert pending(db, ACTION) == []
    assert await fire_at(services, clock, days=3) == []


async def test_an_action_without_due_date_gets_no_reminder(services, db, responder):
    """No due date, nothing to remind of."""
    incident = await declare(services, responder, Severity.SEV4)
    await services.actions.add(GUILD, responder, IncidentRef(incident.number), "Write runbook")
    assert pending(db) == []


async def test_an_action_added_after_its_due_moment_fires_at_the_next_sweep(
    services, db, clock, responder
):
    """Due today and it is past 09:00 already: the owner hears of it at once."""
    incident = await declare(services, responder, Severity.SEV4)
    await services.actions.add(
        GUILD, responder, IncidentRef(incident.number), "Renew cert", due="2026-03-01"
    )
    fired = await services.reminders.fire_due()  # the clock has not moved
    assert [r.kind for r in fired] == [ACTION]
    assert pending(db) == []
    assert len(reminder_events(db)) == 1


async def test_action_reminders_still_fire_after_the_incident_closed(
    services, db, clock, responder
):
    """Follow-ups outlive the incident: closing does not cancel an action's reminder."""
    incident = await declare(services, responder, Severity.SEV4)
    ref = IncidentRef(incident.number)
    await services.actions.add(GUILD, responder, ref, "Postmortem review", due="+7d")
    await services.incidents.close(GUILD, responder, ref)
    assert await fire_at(services, clock, days=7) == [ACTION]


async def test_a_reason_that_ended_unnoticed_is_dropped_not_fired(services, db, clock, responder):
    """An action done behind the rules' back (no cancel): the sweep cancels it quietly."""
    incident = await declare(services, responder, Severity.SEV4)
    action = await services.actions.add(
        GUILD, responder, IncidentRef(incident.number), "Check backups", due="+1d"
    )
    db.store.actions[action.id].status = ActionStatus.DONE
    assert await fire_at(services, clock, days=2) == []
    (reminder,) = db.store.reminders.values()
    assert reminder.cancelled_at == START + timedelta(days=2) and reminder.fired_at is None


async def test_a_lengthened_cadence_moves_the_nudge_instead_of_firing(
    services, db, clock, responder
):
    """The guild changed sev1 to 30 min after the nudge was planned: it moves to 30."""
    await declare(services, responder)
    db.store.guilds[GUILD].update_cadence_minutes[Severity.SEV1] = 30
    assert await fire_at(services, clock, minutes=15) == []
    assert due_times(db, UPDATE) == [START + timedelta(minutes=30)]
    assert await fire_at(services, clock, minutes=30) == [UPDATE]


async def test_many_due_reminders_all_fire_across_batches(services, db, clock, responder):
    """More reminders than one batch: every one fires, each once."""
    incident = await declare(services, responder, Severity.SEV4)
    async with db.uow() as uow:
        for n in range(230):
            action = ActionItem(
                incident_id=incident.id,
                text=f"item {n}",
                kind=ActionKind.REPAIR,
                created_at=START,
                created_by=Person(1, "alice"),
                due=date(2026, 3, 2),
            )
            await uow.actions.add(action)
            await uow.reminders.schedule(
                Reminder(GUILD, incident.id, ACTION, action.id, START, START)
            )
        await uow.commit()
    assert len(await fire_at(services, clock, minutes=1)) == 230
    assert len(reminder_events(db)) == 230 and pending(db) == []


async def test_claiming_twice_fires_once(db, clock):
    """The repository's claim succeeds once; a second claim of the same reminder fails."""
    async with db.uow() as uow:
        reminder = Reminder(GUILD, 1, CLOSE, 1, START, START)
        await uow.reminders.schedule(reminder)
        assert await uow.reminders.claim(reminder.id, START) is True
        assert await uow.reminders.claim(reminder.id, START) is False


async def test_scheduling_again_moves_the_pending_reminder(db):
    """One pending reminder per kind and subject: the second schedule moves the first."""
    async with db.uow() as uow:
        first = Reminder(GUILD, 1, UPDATE, 1, START, START)
        await uow.reminders.schedule(first)
        later = Reminder(GUILD, 1, UPDATE, 1, START + timedelta(hours=1), START)
        await uow.reminders.schedule(later)
        assert later.id == first.id
        assert [r.due_at for r in await uow.reminders.upcoming(10)] == [later.due_at]


async def test_timers_list_reminders_and_escalations_soonest_first(
    services, db, clock, responder, webhook
):
    """The scheduler's plan: every pending reminder and every alert escalation, in time order."""
    incident = await declare(services, responder)  # update nudge at +15 min
    await fire_alert(db, clock, webhook)  # escalation at +5 min
    (alert,) = db.store.alerts.values()
    timers = await services.timers.pending()
    (reminder,) = pending(db)
    assert timers == [
        Timer(f"escalation:{alert.id}", Sweep.ESCALATIONS, START + timedelta(minutes=5)),
        Timer(f"reminder:{reminder.id}", Sweep.REMINDERS, START + timedelta(minutes=15)),
    ]
    assert reminder.incident_id == incident.id


async def test_acknowledged_alerts_have_no_escalation_timer(services, db, clock, admin, webhook):
    """Acknowledging stops the escalation, so the plan no longer holds it."""
    await fire_alert(db, clock, webhook)
    (alert,) = db.store.alerts.values()
    await services.alerts.acknowledge(GUILD, admin, alert.id)
    assert await services.timers.pending() == []


def test_update_cadence_ignores_zero_and_missing_values():
    """A cadence of 0 means no nudges; a severity missing from the override uses the default."""
    config = GuildConfig(GUILD, update_cadence_minutes={Severity.SEV1: 0})
    assert update_cadence(config, Severity.SEV1) is None
    assert update_cadence(config, Severity.SEV3) == timedelta(minutes=60)


async def test_decide_and_still_wanted_follow_the_incident(services, db, clock, responder):
    """An update after firing makes the fired nudge stale; a resolved incident drops nudges."""
    incident = await declare(services, responder)
    config = db.store.guilds[GUILD]
    now = START + timedelta(minutes=15)
    nudge = Reminder(GUILD, incident.id, UPDATE, incident.id, now, START, fired_at=now)
    stored = db.store.incidents[incident.id]
    assert decide(nudge, incident=stored, action=None, config=config, now=now).verdict is (
        Verdict.FIRE
    )
    assert still_wanted(nudge, incident=stored, action=None, config=config)
    stored.latest_update_at = now + timedelta(seconds=5)
    assert not still_wanted(nudge, incident=stored, action=None, config=config)
    stored.status = Status.RESOLVED
    assert decide(nudge, incident=stored, action=None, config=config, now=now).verdict is (
        Verdict.DROP
    )
    assert decide(nudge, incident=None, action=None, config=config, now=now).verdict is (
        Verdict.DROP
    )


@pytest.fixture
async def webhook(services, admin):
    """An events webhook of GUILD."""
    hook, _token = await services.webhooks.create(GUILD, AlertSource.EVENTS, "agent", admin)
    return hook

"""Alert ingest, acknowledge, attach, escalation and webhook-token use cases over the fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.alerts import AlertSignal, AlertSource, AlertState, EscalationTarget, Outcome
from bot.core.alerts import SignalAction as A
from bot.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from bot.core.events import Topic
from bot.core.model import EntryKind, Severity, Status
from bot.core.services import IncidentRef, ingest_signals
from tests.unit.conftest import GUILD


def sig(action=A.TRIGGER, stream="db", episode=None, source=AlertSource.EVENTS, title="DB down"):
    """A notification for `stream`."""
    return AlertSignal(
        source, action, stream, monitor=f"{stream}-monitor", title=title, episode_key=episode
    )


@pytest.fixture
async def webhook(services, admin):
    """An events webhook of GUILD."""
    hook, _token = await services.webhooks.create(GUILD, AlertSource.EVENTS, "agent", admin)
    return hook


async def ingest(db, clock, webhook, *signals):
    """Run one webhook request's notifications in one committed unit of work."""
    async with db.uow() as uow:
        results = await ingest_signals(uow, webhook, signals, clock.now())
        await uow.commit()
    return [r.outcome for r in results]


async def test_same_notification_twice_is_one_alert(db, clock, webhook):
    """At-least-once delivery: the repeat raises the count of the one stored alert."""
    assert await ingest(db, clock, webhook, sig(), sig()) == [Outcome.NEW, Outcome.REPEAT]
    alerts = list(db.store.alerts.values())
    assert len(alerts) == 1 and alerts[0].count == 2
    assert [e.topic for e in db.events()] == [Topic.ALERT_CHANGED] * 2


async def test_trigger_after_resolve_opens_a_new_alert(db, clock, webhook):
    """Events v2: after a resolve, the same dedup_key starts a new episode."""
    outcomes = await ingest(
        db,
        clock,
        webhook,
        sig(),
        sig(A.RESOLVE),
        sig(),
        sig(A.RESOLVE),
        sig(A.RESOLVE),
        sig(A.ACKNOWLEDGE),
    )
    assert outcomes == [
        Outcome.NEW,
        Outcome.RESOLVED,
        Outcome.NEW,
        Outcome.RESOLVED,
        Outcome.IGNORED,
        Outcome.IGNORED,
    ]
    assert [a.state for a in db.store.alerts.values()] == [AlertState.RESOLVED] * 2


async def test_explicit_episodes_never_reopen(db, clock, webhook):
    """Alertmanager-style: a late firing for a resolved episode is ignored; a new one is new."""
    src = AlertSource.ALERTMANAGER
    out = await ingest(
        db,
        clock,
        webhook,
        sig(episode="t1", source=src),
        sig(A.RESOLVE, episode="t1", source=src),
        sig(episode="t1", source=src),
        sig(episode="t2", source=src),
    )
    assert out == [Outcome.NEW, Outcome.RESOLVED, Outcome.IGNORED, Outcome.NEW]


async def test_acknowledge_by_member_then_escalation_stops(services, db, clock, webhook, responder):
    """A responder's acknowledgement is stored and nothing escalates afterwards."""
    await ingest(db, clock, webhook, sig())
    alert_id = next(iter(db.store.alerts))
    acked = await services.alerts.acknowledge(GUILD, responder, alert_id)
    assert acked.acknowledged_by == responder.person
    with pytest.raises(ConflictError, match="already acknowledged"):
        await services.alerts.acknowledge(GUILD, responder, alert_id)
    clock.advance(hours=1)
    assert await services.alerts.escalate_due() == []


async def test_escalation_is_stored_and_queued(services, db, clock, webhook):
    """Due alerts advance a level per run and each ping is queued for the relay."""
    await ingest(db, clock, webhook, sig())
    clock.advance(minutes=4)
    assert await services.alerts.escalate_due() == []
    clock.advance(minutes=1)
    [(alert, target)] = await services.alerts.escalate_due()
    assert target is EscalationTarget.ONCALL and alert.escalation_level == 1
    assert db.store.alerts[alert.id].next_escalation_at == clock.now() + timedelta(minutes=5)
    assert db.events()[-1].topic is Topic.ALERT_ESCALATED


async def test_many_due_escalations_are_written_in_bounded_batches(services, db, clock, webhook):
    """1,100 alerts due together: three transactions of at most 500, each alert advanced
    once, each keeping its own next time, one relay event per alert."""
    await ingest(db, clock, webhook, *(sig(stream=f"s{n}") for n in range(1100)))
    commits = []
    uow_factory = db.uow

    def counting():
        uow = uow_factory()
        commit = uow.commit

        async def counted():
            commits.append(uow)
            await commit()

        uow.commit = counted
        return uow

    services.alerts._uow_factory = counting
    clock.advance(minutes=5)
    done = await services.alerts.escalate_due()
    assert len(done) == 1100 and len({a.id for a, _ in done}) == 1100
    assert len(commits) == 3
    escalated = [e for e in db.events() if e.topic is Topic.ALERT_ESCALATED]
    assert len(escalated) == 1100
    due = clock.now() + timedelta(minutes=5)
    stored = db.store.alerts.values()
    assert all(a.escalation_level == 1 and a.next_escalation_at == due for a in stored)
    assert await services.alerts.escalate_due() == []


async def test_alerts_due_within_seconds_escalate_together(services, db, clock, webhook):
    """An alert due 3 s after another escalates with it (one ping), keeping its own times."""
    await ingest(db, clock, webhook, sig(stream="early"))
    clock.advance(seconds=3)
    await ingest(db, clock, webhook, sig(stream="late"))
    clock.advance(minutes=5, seconds=-3)
    done = await services.alerts.escalate_due()
    assert sorted(a.stream_key for a, _ in done) == ["early", "late"]
    by_stream = {a.stream_key: a for a in db.store.alerts.values()}
    assert by_stream["early"].next_escalation_at == clock.now() + timedelta(minutes=5)
    assert by_stream["late"].next_escalation_at == clock.now() + timedelta(minutes=5, seconds=3)
    clock.advance(seconds=10)
    assert await services.alerts.escalate_due() == []


async def test_member_actions_on_alerts_need_the_role(services, db, clock, webhook, watcher):
    """Watchers cannot acknowledge or attach."""
    await ingest(db, clock, webhook, sig())
    alert_id = next(iter(db.store.alerts))
    with pytest.raises(PermissionDeniedError):
        await services.alerts.acknowledge(GUILD, watcher, alert_id)
    with pytest.raises(PermissionDeniedError):
        await services.alerts.attach(GUILD, watcher, alert_id, IncidentRef(1))


async def test_alert_of_another_guild_is_not_found(services, db, clock, webhook, admin):
    """Ids from another guild behave as unknown."""
    await ingest(db, clock, webhook, sig())
    alert_id = next(iter(db.store.alerts))
    with pytest.raises(NotFoundError):
        await services.alerts.acknowledge(GUILD + 1, admin, alert_id)


async def test_declare_from_alert_attaches_it_and_moves_detection(
    services, db, clock, webhook, responder
):
    """Declaring from an alert puts it on the timeline, moves detection (and the start of
    impact) to when it fired, and acknowledges it in the declarer's name."""
    await ingest(db, clock, webhook, sig())
    alert_id = next(iter(db.store.alerts))
    fired = db.store.alerts[alert_id].started_at
    clock.advance(minutes=7)
    inc = await services.incidents.declare(
        GUILD, responder, title="DB down", severity=Severity.SEV1, alert_id=alert_id
    )
    assert inc.detected_at == fired and inc.declared_at == fired + timedelta(minutes=7)
    assert inc.started_at == fired
    entries = await services.timeline.show(GUILD, IncidentRef(inc.number))
    kinds = [e.kind for e in entries]
    assert kinds[:2] == [EntryKind.ALERT, EntryKind.DECLARED]
    assert sorted(kinds[2:]) == [EntryKind.ALERT, EntryKind.MILESTONE, EntryKind.MILESTONE]
    alert = db.store.alerts[alert_id]
    assert alert.incident_id == inc.id
    assert alert.acknowledged_by == responder.person and alert.next_escalation_at is None


async def test_attached_stream_follows_the_open_incident(services, db, clock, webhook, responder):
    """Later alerts of an attached monitor land on the open incident, not after it closes."""
    await ingest(db, clock, webhook, sig())
    first = next(iter(db.store.alerts))
    inc = await services.incidents.declare(GUILD, responder, title="x", severity=Severity.SEV2)
    ref = IncidentRef(inc.number)
    await services.alerts.attach(GUILD, responder, first, ref)
    with pytest.raises(ConflictError, match="already attached"):
        await services.alerts.attach(GUILD, responder, first, ref)
    clock.advance(minutes=1)
    await ingest(db, clock, webhook, sig(A.RESOLVE), sig(), sig(stream="other"))
    attached = [a for a in db.store.alerts.values() if a.incident_id == inc.id]
    assert len(attached) == 2  # the first episode and the new one of the same stream
    texts = [e.text for e in await services.timeline.show(GUILD, ref)]
    assert texts.count("Alert firing: DB down (db-monitor)") == 2
    assert "Alert resolved: DB down" in texts
    await services.incidents.close(GUILD, responder, ref)
    await ingest(db, clock, webhook, sig(A.RESOLVE), sig())
    assert len([a for a in db.store.alerts.values() if a.incident_id == inc.id]) == 2
    assert (await services.incidents.get(GUILD, ref)).status is Status.CLOSED


async def test_webhook_token_is_shown_once_and_stored_hashed(services, db, admin):
    """The token authenticates; only its hash is stored; revoking makes it unknown."""
    hook, token = await services.webhooks.create(GUILD, AlertSource.UPTIMEROBOT, None, admin)
    stored = db.store.webhooks[hook.id]
    assert token not in repr(stored) and stored.name == "uptimerobot"
    assert (await services.webhooks.authenticate(token)).id == hook.id
    assert (await services.webhooks.authenticate(token, AlertSource.UPTIMEROBOT)).id == hook.id
    for bad in (token + "x", "", token.upper()):
        with pytest.raises(NotFoundError, match="Unknown webhook token"):
            await services.webhooks.authenticate(bad)
    with pytest.raises(NotFoundError, match="Unknown webhook token"):
        await services.webhooks.authenticate(token, AlertSource.GRAFANA)
    await services.webhooks.revoke(GUILD, admin, hook.id)
    with pytest.raises(NotFoundError, match="Unknown webhook token"):
        await services.webhooks.authenticate(token)
    with pytest.raises(NotFoundError):
        await services.webhooks.revoke(GUILD, admin, hook.id)


async def test_webhooks_are_manage_server_only_except_from_the_cli(services, responder):
    """Responders cannot make tokens; the operator's command line (no member) can."""
    with pytest.raises(PermissionDeniedError):
        await services.webhooks.create(GUILD, AlertSource.EVENTS, None, responder)
    hook, token = await services.webhooks.create(GUILD, AlertSource.EVENTS, "cli", None)
    assert hook.created_by is None and len(token) >= 40


async def test_signing_secret_is_for_grafana_only_and_stored(services, db, admin):
    """A signing secret is kept for Grafana webhooks and refused for other sources."""
    hook, _ = await services.webhooks.create(
        GUILD, AlertSource.GRAFANA, None, admin, signing_secret="s" * 12
    )
    assert db.store.webhooks[hook.id].signing_secret == "s" * 12
    with pytest.raises(ValidationError, match="Only Grafana"):
        await services.webhooks.create(
            GUILD, AlertSource.EVENTS, None, admin, signing_secret="s" * 12
        )
    with pytest.raises(ValidationError, match="8 to 256"):
        await services.webhooks.create(GUILD, AlertSource.GRAFANA, None, admin, signing_secret="s")

"""Heartbeat webhooks over real HTTP, on SQLite and PostgreSQL, with a hand-moved clock.

Pings by GET, HEAD or POST (any body, any content type, never read), the deadline moving
with each ping, the miss as an ordinary escalating alert once per silence, the next ping
resolving it, and a restart giving a passed deadline its grace again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.alerts import AlertSource, AlertState
from bot.core.model import Member, Person, Severity
from bot.core.services import IncidentRef
from bot.core.webhooks import Webhook
from tests.integration.http.conftest import GUILD, Hooks

EVERY, GRACE = timedelta(minutes=5), timedelta(minutes=1)


async def heartbeat(hooks: Hooks, name: str = "nightly-backup") -> tuple[Webhook, str]:
    """A heartbeat webhook and the path of its URL."""
    webhook, token = await hooks.services.webhooks.create(
        GUILD, AlertSource.HEARTBEAT, name, None, heartbeat=(EVERY, GRACE)
    )
    return webhook, f"/hooks/heartbeat/{token}"


async def beats(hooks: Hooks, webhook: Webhook):
    """The stored heartbeat."""
    return (await hooks.services.heartbeats.for_guild(GUILD))[webhook.id]


@pytest.mark.parametrize(
    ("method", "body", "content_type"),
    [
        ("GET", None, None),
        ("HEAD", None, None),
        ("POST", b"", None),
        ("POST", b'{"status": "firing", "alerts": [{"labels": {}}]}', "application/json"),
        ("POST", b"\x00\xff not even text", "application/octet-stream"),
        ("POST", b"<<<", "text/x-whatever; charset=klingon"),
    ],
)
async def test_any_ping_moves_the_deadline(
    hooks: Hooks, method: str, body: bytes | None, content_type: str | None
) -> None:
    """GET, HEAD and POST with any body and type: 2xx, and the deadline counts from now."""
    webhook, path = await heartbeat(hooks)
    before = await beats(hooks, webhook)
    assert before.due_at == hooks.clock.now() + EVERY + GRACE and before.last_ping_at is None
    hooks.clock.advance(minutes=3)
    headers = {"Content-Type": content_type} if content_type else {}
    response = await hooks.client.request(method, path, data=body, headers=headers)
    assert response.status == 202, await response.text()
    after = await beats(hooks, webhook)
    assert after.last_ping_at == hooks.clock.now()
    assert after.due_at == hooks.clock.now() + EVERY + GRACE
    assert await hooks.alerts() == []
    # The scheduler's plan follows the stored deadline (no timer lives only in memory).
    [timer] = await hooks.services.timers.pending()
    assert (timer.key, timer.sweep.value, timer.due_at) == (
        f"heartbeat:{webhook.id}",
        "heartbeats",
        after.due_at,
    )


async def test_wrong_method_and_token(hooks: Hooks) -> None:
    """Other methods get a 405 naming the allowed ones; a bad token a 404; certificate
    alerts have no webhook URL at all."""
    webhook, path = await heartbeat(hooks)
    response = await hooks.client.put(path, data=b"x")
    assert response.status == 405 and response.headers["Allow"] == "GET, HEAD, POST"
    assert (await hooks.client.get("/hooks/heartbeat/not-a-token")).status == 404
    assert (await hooks.client.post(path.replace("heartbeat", "events"))).status == 404
    assert (await hooks.client.get("/hooks/certificate/whatever")).status == 404
    assert (await beats(hooks, webhook)).last_ping_at is None


async def test_a_missed_deadline_fires_once_and_the_next_ping_resolves_it(hooks: Hooks) -> None:
    """Silence past every + grace: one alert "Heartbeat N missed" that escalates; sweeping
    again adds nothing; the next ping resolves it and sets a new deadline."""
    webhook, path = await heartbeat(hooks)
    assert (await hooks.client.get(path)).status == 202
    pinged = hooks.clock.now()
    hooks.clock.advance(minutes=5, seconds=59)
    assert await hooks.services.heartbeats.fire_due() == []  # within the grace
    hooks.clock.advance(seconds=1)
    [fired] = await hooks.services.heartbeats.fire_due()
    assert fired.webhook_id == webhook.id
    [alert] = await hooks.alerts()
    assert alert.title == "Heartbeat nightly-backup missed"
    assert alert.source is AlertSource.HEARTBEAT and alert.state is AlertState.FIRING
    assert alert.started_at == pinged + EVERY  # when the missing ping was owed
    assert alert.next_escalation_at == hooks.clock.now() + timedelta(minutes=5)
    assert alert.details["Expected"] == "every 5m, grace 1m"
    stored = await beats(hooks, webhook)
    assert stored.missed_at == hooks.clock.now() and stored.due_at is None

    hooks.clock.advance(hours=3)
    assert await hooks.services.heartbeats.fire_due() == []  # one silence, one alert
    assert len(await hooks.alerts()) == 1

    assert (await hooks.client.post(path, data=b"back")).status == 202
    [resolved] = await hooks.alerts()
    assert resolved.state is AlertState.RESOLVED and resolved.resolved_at == hooks.clock.now()
    again = await beats(hooks, webhook)
    assert again.missed_at is None and again.due_at == hooks.clock.now() + EVERY + GRACE

    # The next silence is a new alert.
    hooks.clock.advance(minutes=6)
    await hooks.services.heartbeats.fire_due()
    assert [a.state for a in await hooks.alerts()] == [AlertState.RESOLVED, AlertState.FIRING]


async def test_a_restart_gives_passed_deadlines_their_grace(hooks: Hooks) -> None:
    """Deadlines that passed while Opsroom was down move to start + grace; one that has not
    passed stands; a heartbeat already missed stays missed (no second alert)."""
    missed, _ = await heartbeat(hooks, "missed")
    hooks.clock.advance(minutes=7)
    assert len(await hooks.services.heartbeats.fire_due()) == 1  # before the "crash"
    fine, fine_path = await heartbeat(hooks, "fine")
    assert (await hooks.client.get(fine_path)).status == 202
    hooks.clock.advance(minutes=55)  # down from here: nothing gets through, no sweep runs
    later, _ = await heartbeat(hooks, "later")
    hooks.clock.advance(minutes=5)
    started = hooks.clock.now()
    assert await hooks.services.heartbeats.restart() == 1  # only "fine" passed meanwhile
    assert (await beats(hooks, fine)).due_at == started + GRACE
    assert (await beats(hooks, later)).due_at == started + timedelta(minutes=1)
    assert (await beats(hooks, missed)).due_at is None
    assert await hooks.services.heartbeats.fire_due() == []  # the senders' chance
    hooks.clock.advance(minutes=1)
    fired = await hooks.services.heartbeats.fire_due()
    assert {h.webhook_id for h in fired} == {fine.id, later.id}
    titles = sorted(a.title for a in await hooks.alerts())
    assert titles == [
        "Heartbeat fine missed",
        "Heartbeat later missed",
        "Heartbeat missed missed",
    ]


async def test_revoked_heartbeats_never_fire(hooks: Hooks) -> None:
    """A revoked heartbeat's deadline is not watched any more; revoking one that is missed
    resolves its alert (no ping could end it now)."""
    missed, _ = await heartbeat(hooks, "gone")
    hooks.clock.advance(minutes=7)
    await hooks.services.heartbeats.fire_due()
    webhook, path = await heartbeat(hooks)
    admin = Member(Person(1, "carol"), manage_guild=True)
    await hooks.services.webhooks.revoke(GUILD, admin, missed.id)
    [alert] = await hooks.alerts()
    assert alert.state is AlertState.RESOLVED and alert.resolved_at == hooks.clock.now()
    await hooks.services.webhooks.revoke(GUILD, admin, webhook.id)
    hooks.clock.advance(hours=1)
    assert await hooks.services.heartbeats.fire_due() == []
    assert (await hooks.client.get(path)).status == 404
    assert await hooks.services.timers.pending() == []


async def test_a_missed_heartbeat_follows_its_open_incident(hooks: Hooks) -> None:
    """Attached to an incident, the miss is on its timeline; the resolving ping and the next
    silence follow it there, as any alert's stream does."""
    admin = Member(Person(1, "carol"), manage_guild=True)
    webhook, path = await heartbeat(hooks)
    hooks.clock.advance(minutes=6)
    await hooks.services.heartbeats.fire_due()
    [alert] = await hooks.alerts()
    incident = await hooks.services.incidents.declare(
        GUILD, admin, title="Backups not running", severity=Severity.SEV3
    )
    await hooks.services.alerts.attach(GUILD, admin, alert.id, IncidentRef(incident.number))
    hooks.clock.advance(minutes=1)
    assert (await hooks.client.get(path)).status == 202
    hooks.clock.advance(minutes=6)
    await hooks.services.heartbeats.fire_due()
    first, second = await hooks.alerts()
    assert first.state is AlertState.RESOLVED and second.incident_id == incident.id
    texts = [
        e.text for e in await hooks.services.timeline.show(GUILD, IncidentRef(incident.number))
    ]
    assert texts.count("Alert firing: Heartbeat nightly-backup missed (nightly-backup)") == 2
    assert "Alert resolved: Heartbeat nightly-backup missed" in texts

"""Every source and delivery form, from the real payloads in tests/fixtures to stored alerts."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.http.parsers.alertmanager import TRUNCATED_DETAIL
from bot.core.alerts import AlertSource, AlertState
from tests.integration.http.conftest import Hooks, fixture_bytes, fixture_json

AM = AlertSource.ALERTMANAGER
FIRING = "alertmanager/alertmanager-0.25-firing.json"
PARTIAL = "alertmanager/alertmanager-0.25-partial-resolve.json"
RESOLVED = "alertmanager/alertmanager-0.25-resolved.json"
TRUNCATED = "alertmanager/alertmanager-0.25-max_alerts5-truncated7.json"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post(hooks: Hooks, path: str, body: bytes | str, headers: dict[str, str] | None = None):
    """POST a body and return (status, JSON answer)."""
    response = await hooks.client.post(path, data=body, headers=headers or JSON)
    return response.status, await response.json()


# --- Alertmanager -----------------------------------------------------------------------------


async def test_alertmanager_firing_group_stores_each_alert(hooks: Hooks) -> None:
    """A firing group of two becomes two firing alerts keyed by fingerprint and startsAt."""
    webhook, token = await hooks.webhook(AM)
    status, answer = await post(hooks, f"/hooks/alertmanager/{token}", fixture_bytes(FIRING))
    assert status == 202
    assert answer == {
        "status": "success",
        "message": "Event processed",
        "alerts": 2,
        "outcomes": {"new": 2},
    }
    stored = await hooks.alerts()
    assert [(a.stream_key, a.episode_key, a.state) for a in stored] == [
        ("e94c744ae3d44df8", "2026-11-21T09:28:07.106785656Z", AlertState.FIRING),
        ("82f18647108e0b7e", "2026-11-21T09:28:07.120276674Z", AlertState.FIRING),
    ]
    first = stored[0]
    assert first.source is AM and first.guild_id == webhook.guild_id
    assert first.webhook_id == webhook.id
    assert first.title == "Disk almost full on db1" and first.monitor == "DiskFull · db1"
    assert first.severity == "critical" and first.link == "https://example.org/rb/disk"
    assert first.count == 1
    assert await hooks.pending_events() == 2  # the relay learns of both through the outbox


async def test_the_same_alertmanager_post_twice_is_stored_once(hooks: Hooks) -> None:
    """At-least-once delivery: a repeated group updates the count, it adds no alert."""
    _, token = await hooks.webhook(AM)
    for expected in ({"new": 2}, {"repeat": 2}):
        status, answer = await post(hooks, f"/hooks/alertmanager/{token}", fixture_bytes(FIRING))
        assert (status, answer["outcomes"]) == (202, expected)
    stored = await hooks.alerts()
    assert len(stored) == 2
    assert [a.count for a in stored] == [2, 2]


async def test_partly_resolved_group_resolves_only_its_resolved_alert(hooks: Hooks) -> None:
    """In a group still firing, the alert marked resolved is resolved; the other repeats."""
    _, token = await hooks.webhook(AM)
    await post(hooks, f"/hooks/alertmanager/{token}", fixture_bytes(FIRING))
    status, answer = await post(hooks, f"/hooks/alertmanager/{token}", fixture_bytes(PARTIAL))
    assert (status, answer["outcomes"]) == (202, {"resolved": 1, "repeat": 1})
    db1, db2 = await hooks.alerts()
    assert db1.state is AlertState.RESOLVED
    assert db1.resolved_at == datetime(2026, 11, 21, 9, 28, 16, tzinfo=UTC)
    assert db2.state is AlertState.FIRING and db2.count == 2


async def test_resolved_group_resolves_the_last_alert(hooks: Hooks) -> None:
    """firing → partly resolved → resolved leaves both alerts resolved with their end times."""
    _, token = await hooks.webhook(AM)
    for name in (FIRING, PARTIAL, RESOLVED):
        status, _ = await post(hooks, f"/hooks/alertmanager/{token}", fixture_bytes(name))
        assert status == 202
    stored = await hooks.alerts()
    assert [a.state for a in stored] == [AlertState.RESOLVED, AlertState.RESOLVED]
    assert stored[1].resolved_at == datetime(2026, 11, 21, 9, 28, 28, tzinfo=UTC)


async def test_resolved_notification_without_firing_is_still_recorded(hooks: Hooks) -> None:
    """A missed firing (only the resolved group arrives) is stored, already resolved."""
    _, token = await hooks.webhook(AM)
    status, answer = await post(hooks, f"/hooks/alertmanager/{token}", fixture_bytes(RESOLVED))
    assert (status, answer["outcomes"]) == (202, {"new": 1})
    (alert,) = await hooks.alerts()
    assert alert.state is AlertState.RESOLVED


async def test_new_episode_of_the_same_fingerprint_is_a_new_alert(hooks: Hooks) -> None:
    """Same labels firing again later (a new startsAt) opens a second alert."""
    _, token = await hooks.webhook(AM)
    group = fixture_json(RESOLVED)
    await post(hooks, f"/hooks/alertmanager/{token}", json.dumps(group))
    again = copy.deepcopy(group)
    again["alerts"][0].update(status="firing", startsAt="2026-11-21T10:00:00Z")
    await post(hooks, f"/hooks/alertmanager/{token}", json.dumps(again))
    stored = await hooks.alerts()
    assert [(a.stream_key, a.state) for a in stored] == [
        ("82f18647108e0b7e", AlertState.RESOLVED),
        ("82f18647108e0b7e", AlertState.FIRING),
    ]


async def test_truncated_group_stores_what_was_sent_and_says_more_exist(hooks: Hooks) -> None:
    """max_alerts cut 7 alerts: the 5 sent are stored, each noting the 7 left out."""
    _, token = await hooks.webhook(AM)
    status, answer = await post(hooks, f"/hooks/alertmanager/{token}", fixture_bytes(TRUNCATED))
    assert (status, answer["alerts"]) == (202, 5)
    stored = await hooks.alerts()
    assert len(stored) == 5
    assert all("7 more" in a.details[TRUNCATED_DETAIL] for a in stored)


async def test_alertmanager_with_bearer_header(hooks: Hooks) -> None:
    """`POST /hooks/alertmanager` with `Authorization: Bearer` works like the token URL."""
    _, token = await hooks.webhook(AM)
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    status, _ = await post(hooks, "/hooks/alertmanager", fixture_bytes(FIRING), headers)
    assert status == 202
    assert len(await hooks.alerts()) == 2


# --- Grafana ------------------------------------------------------------------------------------


def grafana_payload() -> dict[str, Any]:
    """Grafana's webhook shape: Alertmanager's plus orgId, title, state, message, panel links."""
    group = fixture_json(FIRING)
    group.update(version="1", orgId=1, state="alerting", title="[FIRING:2] DiskFull", message="…")
    for alert in group["alerts"]:
        alert.update(
            silenceURL="https://grafana.example/alerting/silence/new",
            dashboardURL="https://grafana.example/d/abc",
            panelURL="https://grafana.example/d/abc?viewPanel=2",
            values={"B": 97.5},
            valueString="[ var='B' labels={} value=97.5 ]",
            generatorURL="",
        )
    return group


async def test_grafana_contact_point_by_post_and_put(hooks: Hooks) -> None:
    """Grafana's v1 payload is stored as grafana alerts; its PUT method is accepted too."""
    _, token = await hooks.webhook(AlertSource.GRAFANA)
    body = json.dumps(grafana_payload())
    first = await hooks.client.post(f"/hooks/grafana/{token}", data=body, headers=JSON)
    second = await hooks.client.put(f"/hooks/grafana/{token}", data=body, headers=JSON)
    assert (first.status, second.status) == (202, 202)
    stored = await hooks.alerts()
    assert [(a.source, a.count) for a in stored] == [(AlertSource.GRAFANA, 2)] * 2
    assert stored[0].link == "https://grafana.example/d/abc?viewPanel=2"
    assert stored[0].details["Value"] == "[ var='B' labels={} value=97.5 ]"


# --- PagerDuty Events v2 ------------------------------------------------------------------------


def event(action: str, key: str | None = "disk-db1", **fields: Any) -> dict[str, Any]:
    """An Events v2 body."""
    body: dict[str, Any] = {"event_action": action, **fields}
    if key is not None:
        body["dedup_key"] = key
    if action == "trigger":
        body.setdefault(
            "payload", {"summary": "Disk 97% on db1", "source": "db1", "severity": "critical"}
        )
    return body


async def test_events_trigger_ack_resolve_and_trigger_after_resolve(hooks: Hooks) -> None:
    """trigger → repeat → acknowledge → resolve → trigger opens a second alert for the key."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    url = f"/hooks/events/{token}"
    for action in ("trigger", "trigger", "acknowledge", "resolve"):
        status, answer = await post(hooks, url, json.dumps(event(action)))
        assert status == 202
        assert answer == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "disk-db1",
        }
    (alert,) = await hooks.alerts()
    assert alert.state is AlertState.RESOLVED and alert.count == 2
    assert alert.acknowledged_at is not None and alert.severity == "critical"
    await post(hooks, url, json.dumps(event("trigger")))
    first, second = await hooks.alerts()
    assert (first.state, second.state) == (AlertState.RESOLVED, AlertState.FIRING)
    assert first.stream_key == second.stream_key == "disk-db1"


async def test_events_routing_key_in_the_body(hooks: Hooks) -> None:
    """`POST /hooks/events` takes the token as routing_key, as PagerDuty clients send it."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    status, answer = await post(
        hooks, "/hooks/events", json.dumps(event("trigger", routing_key=token))
    )
    assert (status, answer["dedup_key"]) == (202, "disk-db1")
    assert len(await hooks.alerts()) == 1


async def test_events_trigger_without_dedup_key_gets_one_back(hooks: Hooks) -> None:
    """A trigger without dedup_key is given one, returned in the answer and usable to resolve."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    status, answer = await post(hooks, "/hooks/events", json.dumps(event("trigger", None)), headers)
    key = answer["dedup_key"]
    assert status == 202 and len(key) == 32
    await post(hooks, "/hooks/events", json.dumps(event("resolve", key)), headers)
    (alert,) = await hooks.alerts()
    assert alert.stream_key == key and alert.state is AlertState.RESOLVED


async def test_events_acknowledge_of_an_unknown_key_is_dropped(hooks: Hooks) -> None:
    """Acknowledging a key with nothing open is answered 202 and stores nothing."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    status, _ = await post(hooks, f"/hooks/events/{token}", json.dumps(event("acknowledge")))
    assert status == 202
    assert await hooks.alerts() == []
    assert await hooks.pending_events() == 0


# --- UptimeRobot -------------------------------------------------------------------------------


async def test_uptimerobot_down_by_get_then_up_by_form(hooks: Hooks) -> None:
    """GET query down, repeated, then POST form up: one alert, count 2, resolved at the up time."""
    _, token = await hooks.webhook(AlertSource.UPTIMEROBOT)
    query = fixture_bytes("uptimerobot/down.query.txt").decode().strip()
    for _ in range(2):
        response = await hooks.client.get(f"/hooks/uptimerobot/{token}?{query}")
        assert response.status == 202
    status, _ = await post(
        hooks, f"/hooks/uptimerobot/{token}", fixture_bytes("uptimerobot/up.form.txt"), FORM
    )
    assert status == 202
    (alert,) = await hooks.alerts()
    assert (alert.stream_key, alert.monitor, alert.count) == ("793105128", "media CDN", 2)
    assert alert.state is AlertState.RESOLVED
    assert alert.resolved_at == datetime.fromtimestamp(1670958420, UTC)


async def test_uptimerobot_json_down_then_up(hooks: Hooks) -> None:
    """POST JSON with `*var*` names: down opens the alert, an up for the monitor resolves it."""
    _, token = await hooks.webhook(AlertSource.UPTIMEROBOT)
    down = fixture_json("uptimerobot/down.json")
    up = {
        **down,
        "alertType": "2",
        "alertTypeFriendlyName": "Up",
        "alertDuration": "120",
        "alertDateTime": str(int(down["alertDateTime"]) + 120),
    }
    for body in (down, up):
        status, _ = await post(hooks, f"/hooks/uptimerobot/{token}", json.dumps(body))
        assert status == 202
    (alert,) = await hooks.alerts()
    assert alert.state is AlertState.RESOLVED
    assert alert.duration == timedelta(seconds=120)
    assert alert.details["Details"] == "HTTP 502 - Bad Gateway"


async def test_uptimerobot_snake_case_json(hooks: Hooks) -> None:
    """snake_case names work; without a monitor id the monitor is identified by its URL."""
    _, token = await hooks.webhook(AlertSource.UPTIMEROBOT)
    body = fixture_bytes("uptimerobot/down.snake_case.json")
    status, _ = await post(hooks, f"/hooks/uptimerobot/{token}", body)
    assert status == 202
    (alert,) = await hooks.alerts()
    assert alert.stream_key == "url:db1.example.social"
    assert alert.title == "database host: Host Is Unreachable"
    assert "Duration" not in alert.details  # `*alertFriendlyDuration*` was never replaced


async def test_uptimerobot_ssl_expiry_is_its_own_stream(hooks: Hooks) -> None:
    """An expiry notice fires on "<id>:expiry", apart from the monitor's down alerts."""
    _, token = await hooks.webhook(AlertSource.UPTIMEROBOT)
    body = fixture_bytes("uptimerobot/ssl-expiry.json")
    status, _ = await post(hooks, f"/hooks/uptimerobot/{token}", body)
    assert status == 202
    (alert,) = await hooks.alerts()
    assert alert.stream_key == "793105131:expiry" and alert.state is AlertState.FIRING
    assert alert.details["SSL expiry date"] == "2023-03-07"

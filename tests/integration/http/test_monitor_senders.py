"""Senders as they really send: Uptime Kuma's three bodies, Grafana's renamed HMAC headers,
the Events v2 client paths, curl's form-typed JSON and the Events body cap."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.core.alerts import AlertSource, AlertState
from tests.integration.http import rawhttp
from tests.integration.http.conftest import Hooks, fixture_bytes, fixture_json

JSON = {"Content-Type": "application/json"}
KUMA = AlertSource.UPTIMEKUMA


def form_data(fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body laid out as Node's `form-data` package (which Uptime Kuma
    uses) lays it out: a dashed boundary, one part per field, CRLF line ends."""
    boundary = "--------------------------" + "483920174650193847561029"
    parts = b""
    for name, value in fields.items():
        parts += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    return parts + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def kuma_post(hooks: Hooks, token: str, fixture: str, how: str) -> tuple[int, Any]:
    """Send an Uptime Kuma fixture as its "application/json", "form-data" or GET does."""
    url = f"/hooks/uptimekuma/{token}"
    document = fixture_json(f"uptimekuma/{fixture}")
    if how == "json":
        response = await hooks.client.post(url, data=fixture_bytes(f"uptimekuma/{fixture}"))
    elif how == "form-data":
        body, content_type = form_data({"data": json.dumps(document)})
        response = await hooks.client.post(url, data=body, headers={"Content-Type": content_type})
    else:
        query = {"msg": document["msg"]}
        for name in ("heartbeat", "monitor"):
            if document[name] is not None:
                query[name] = json.dumps(document[name])
        response = await hooks.client.get(f"{url}?{urlencode(query)}")
    return response.status, await response.json()


@pytest.mark.parametrize("how", ["json", "form-data", "get"])
async def test_uptime_kuma_down_then_up(hooks: Hooks, how: str) -> None:
    """Down opens an alert for monitor.id with its msg, name and URL; a repeat counts; up
    resolves it at the heartbeat's time; the title carries no state."""
    hooks.clock.current = datetime(2026, 12, 4, 19, 10, tzinfo=UTC)  # after the beats
    _, token = await hooks.webhook(KUMA)
    assert (await kuma_post(hooks, token, "down.json", how))[0] == 202
    status, answer = await kuma_post(hooks, token, "down.json", how)
    assert (status, answer["outcomes"]) == (202, {"repeat": 1})
    status, answer = await kuma_post(hooks, token, "up.json", how)
    assert (status, answer["outcomes"]) == (202, {"resolved": 1})
    (alert,) = await hooks.alerts()
    assert (alert.source, alert.stream_key, alert.count) == (KUMA, "7", 2)
    assert alert.monitor == "Mastodon web"
    assert alert.title == "Mastodon web: Request failed with status code 502"
    assert alert.details["URL"] == alert.link == "https://example.social/health"
    assert alert.details["Message"] == "Request failed with status code 502"
    assert alert.state is AlertState.RESOLVED
    assert alert.started_at.isoformat() == "2026-12-04T19:02:11.482000+00:00"
    assert alert.resolved_at is not None
    assert alert.resolved_at.isoformat() == "2026-12-04T19:09:12.913000+00:00"


@pytest.mark.parametrize("how", ["json", "form-data", "get"])
async def test_uptime_kuma_test_button_is_a_notice(hooks: Hooks, how: str) -> None:
    """The Test button's body (no heartbeat, no monitor) is a notice that never escalates."""
    _, token = await hooks.webhook(KUMA)
    status, answer = await kuma_post(hooks, token, "test.json", how)
    assert (status, answer["outcomes"]) == (202, {"new": 1})
    (alert,) = await hooks.alerts()
    assert alert.title == "Test notification: Opsroom Testing"
    assert alert.severity == "info" and alert.next_escalation_at is None


async def test_uptime_kuma_bad_bodies_are_400_or_415(hooks: Hooks) -> None:
    """A form without `data`, a heartbeat without status, a text body: each says why."""
    _, token = await hooks.webhook(KUMA)
    url = f"/hooks/uptimekuma/{token}"
    body, content_type = form_data({"other": "{}"})
    no_data = await hooks.client.post(url, data=body, headers={"Content-Type": content_type})
    beat = {"heartbeat": {"time": "x"}, "monitor": {"id": 1}, "msg": "m"}
    no_status = await hooks.client.post(url, data=json.dumps(beat), headers=JSON)
    text = await hooks.client.post(url, data="down", headers={"Content-Type": "text/plain"})
    assert (no_data.status, (await no_data.json())["error"]) == (400, "the form has no data field")
    assert no_status.status == 400
    assert "heartbeat.status" in (await no_status.json())["error"]
    assert text.status == 415
    assert await hooks.alerts() == []


# --- Grafana's HMAC with its default and renamed headers ------------------------------------


def signed(secret: str, body: bytes, timestamp: str | None) -> str:
    """Grafana's hex HMAC-SHA256 of the body, or of "timestamp:body"."""
    message = body if timestamp is None else f"{timestamp}:".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def test_grafana_custom_header_names_are_stored_and_checked(hooks: Hooks) -> None:
    """A webhook made with renamed headers (Grafana's own config test uses X-Test-Timestamp)
    accepts only signatures in those headers; one with the defaults keeps Grafana's names."""
    renamed, token = await hooks.services.webhooks.create(
        1,
        AlertSource.GRAFANA,
        None,
        None,
        signing_secret="s3cret-key",
        signature_header="X-Test-Signature",
        timestamp_header="X-Test-Timestamp",
    )
    async with hooks.uow_factory() as uow:  # stored, not just kept in memory
        (stored,) = await uow.webhooks.list(1)
    assert (stored.signature_header, stored.timestamp_header) == (
        "X-Test-Signature",
        "X-Test-Timestamp",
    )
    body = fixture_bytes("alertmanager/alertmanager-0.25-firing.json")
    url = f"/hooks/grafana/{token}"
    good = signed("s3cret-key", body, "1764876000")
    default_names = await hooks.client.post(
        url,
        data=body,
        headers={
            **JSON,
            "X-Grafana-Alerting-Signature": good,
            "X-Grafana-Alerting-Timestamp": "1764876000",
        },
    )
    assert default_names.status == 401
    assert (await default_names.json())["error"] == "missing or invalid X-Test-Signature"
    accepted = await hooks.client.post(
        url,
        data=body,
        headers={**JSON, "X-Test-Signature": good, "X-Test-Timestamp": "1764876000"},
    )
    assert accepted.status == 202

    _, plain_token = await hooks.services.webhooks.create(
        1, AlertSource.GRAFANA, None, None, signing_secret="s3cret-key"
    )
    default = await hooks.client.post(
        f"/hooks/grafana/{plain_token}",
        data=body,
        headers={**JSON, "X-Grafana-Alerting-Signature": signed("s3cret-key", body, None)},
    )
    assert default.status == 202


async def test_header_names_need_a_secret_and_a_valid_name(hooks: Hooks) -> None:
    """Header names without a secret, or that no HTTP header could have, are refused."""
    from bot.core.errors import ValidationError

    with pytest.raises(ValidationError, match="needs a signing secret"):
        await hooks.services.webhooks.create(
            1, AlertSource.GRAFANA, None, None, signature_header="X-Sig"
        )
    with pytest.raises(ValidationError, match="not an HTTP header name"):
        await hooks.services.webhooks.create(
            1, AlertSource.GRAFANA, None, None, signing_secret="s3cret-key", timestamp_header="a b"
        )


# --- Events v2: the client paths, curl's form-typed JSON, the 512 KiB cap --------------------


def trigger(token: str, **fields: Any) -> dict[str, Any]:
    """An Events v2 trigger naming its token."""
    return {
        "routing_key": token,
        "event_action": "trigger",
        "payload": {"summary": "Disk 97% on db1", "source": "db1", "severity": "critical"},
        **fields,
    }


@pytest.mark.parametrize("path", ["/hooks/events", "/hooks/events/v2/enqueue", "/v2/enqueue"])
async def test_events_paths_answer_as_pagerduty(hooks: Hooks, path: str) -> None:
    """Every Events path answers PagerDuty's 202 body, with a made dedup_key when none came."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    response = await hooks.client.post(path, data=json.dumps(trigger(token)), headers=JSON)
    answer = await response.json()
    assert response.status == 202
    assert answer == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": answer["dedup_key"],
    }
    assert len(answer["dedup_key"]) == 32
    (alert,) = await hooks.alerts()
    assert alert.stream_key == answer["dedup_key"]
    metrics = await (await hooks.client.get("/metrics")).text()
    assert 'opsroom_webhook_requests_total{source="events",status="202"} 1.0' in metrics


async def test_curl_form_typed_json_is_read_as_json(hooks: Hooks) -> None:
    """`curl -d '{…}'` labels JSON as a form; it is accepted as JSON, a real form is not."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = json.dumps(trigger(token, dedup_key="curl-1"))
    accepted = await hooks.client.post("/hooks/events", data=body, headers=form)
    refused = await hooks.client.post("/hooks/events", data="routing_key=x", headers=form)
    assert (accepted.status, refused.status) == (202, 415)
    assert [a.stream_key for a in await hooks.alerts()] == ["curl-1"]


async def test_events_body_over_512_kib_is_413_before_parsing(hooks: Hooks) -> None:
    """A 600 KiB event (valid token inside) is refused, declared or chunked, and not stored."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    event = trigger(token)
    event["payload"]["custom_details"] = {"blob": "x" * (600 * 1024)}
    body = json.dumps(event).encode()

    declared = await hooks.client.post("/hooks/events", data=body, headers=JSON)
    assert declared.status == 413
    assert (await declared.json())["error"] == "the body is larger than 512 KiB"
    # Chunked, so no length is declared: the server stops at the first byte past the cap
    # (the body is sent up to there, so the server has read all of it before it answers).
    size = 512 * 1024 + 1
    streamed = await rawhttp.send(
        hooks.client,
        rawhttp.head("POST", "/v2/enqueue", {**JSON, "Transfer-Encoding": "chunked"}),
        f"{size:x}\r\n".encode() + body[:size] + b"\r\n",
    )
    assert streamed.status == 413
    assert await hooks.alerts() == []

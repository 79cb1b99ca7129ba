"""Every error answer of the webhook server: 400, 401/404, 405, 413, 415, 429, 503, never 500."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sqlite3
from pathlib import Path

import pytest

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory
from bot.adapters.http.ratelimit import TokenBucketLimiter
from bot.core.alerts import AlertSource
from bot.core.clock import SystemClock
from bot.core.services import Services
from bot.core.webhooks import hash_token
from tests.integration.conftest import Database
from tests.integration.http.conftest import (
    Hooks,
    HooksFactory,
    UowFactory,
    fixture_bytes,
    fixture_json,
)

AM = AlertSource.ALERTMANAGER
FIRING = "alertmanager/alertmanager-0.25-firing.json"
JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024


async def answer(response) -> tuple[int, dict]:
    """(status, JSON body) of a response."""
    return response.status, await response.json()


# --- 400 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "body", "reason"),
    [
        (AM, b"{not json", "not valid JSON"),
        (AM, b"[]", "must be a JSON object"),
        (AM, b'{"version": "4"}', "alerts is missing"),
        (AM, b'{"alerts": [{"status": "firing", "labels": {}}]}', "alerts[0].startsAt is missing"),
        (AM, b'{"alerts": [{"status": "on", "labels": {}}]}', "alerts[0].status must be"),
        (
            AlertSource.EVENTS,
            b'{"event_action": "trigger", "payload": {"source": "x"}}',
            "payload.summary is missing",
        ),
        (AlertSource.EVENTS, b'{"event_action": "ack"}', "event_action must be"),
        (AlertSource.EVENTS, b'{"event_action": "resolve"}', "dedup_key is required"),
        (
            AlertSource.UPTIMEROBOT,
            b'{"monitorID": "1", "alertType": "*alertType*"}',
            "alertType is missing",
        ),
        (AlertSource.UPTIMEROBOT, b'{"alertType": "1"}', "monitorID is missing"),
    ],
)
async def test_malformed_payload_is_400_naming_the_field(
    hooks: Hooks, source: AlertSource, body: bytes, reason: str
) -> None:
    """A payload that cannot be understood is refused with a reason naming what is wrong."""
    _, token = await hooks.webhook(source)
    status, body_ = await answer(
        await hooks.client.post(f"/hooks/{source}/{token}", data=body, headers=JSON)
    )
    assert status == 400 and reason in body_["error"]
    assert await hooks.alerts() == []


async def test_one_bad_alert_refuses_the_whole_group(hooks: Hooks) -> None:
    """A group is stored whole or not at all: the 400 names the bad alert's index."""
    _, token = await hooks.webhook(AM)
    group = fixture_json(FIRING)
    del group["alerts"][1]["labels"]
    status, body = await answer(await hooks.client.post(f"/hooks/alertmanager/{token}", json=group))
    assert (status, body["error"]) == (400, "alerts[1].labels is missing")
    assert await hooks.alerts() == []


async def test_events_without_any_token_is_400(hooks: Hooks) -> None:
    """`POST /hooks/events` with neither routing_key nor Authorization names routing_key."""
    status, body = await answer(
        await hooks.client.post(
            "/hooks/events", json={"event_action": "acknowledge", "dedup_key": "k"}
        )
    )
    assert (status, body["error"]) == (400, "routing_key is missing")


# --- 401 / 404 ----------------------------------------------------------------------------------


async def test_bad_tokens_all_look_the_same(hooks: Hooks) -> None:
    """Unknown token, revoked token, wrong source, unknown source: one 404, no hint which."""
    webhook, token = await hooks.webhook(AM)
    _, revoked = await hooks.webhook(AM)
    async with hooks.uow_factory() as uow:
        found = await uow.webhooks.by_hash(hash_token(revoked))
        assert found is not None
        found.revoked_at = hooks.clock.now()
        await uow.webhooks.save(found)
        await uow.commit()
    body = fixture_bytes(FIRING)
    answers = [
        await answer(await hooks.client.post(path, data=body, headers=JSON))
        for path in (
            "/hooks/alertmanager/not-a-token",
            f"/hooks/alertmanager/{revoked}",
            f"/hooks/grafana/{token}",
            f"/hooks/nagios/{token}",
        )
    ]
    assert answers == [(404, {"error": "unknown or revoked webhook"})] * 4
    ok = await hooks.client.post(f"/hooks/alertmanager/{token}", data=body, headers=JSON)
    assert ok.status == 202


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwdw==", "Bearer", "Bearer a b"])
async def test_missing_or_malformed_authorization_is_401(hooks: Hooks, header: str | None) -> None:
    """`/hooks/{source}` without a usable Bearer header is 401 with WWW-Authenticate."""
    headers = dict(JSON)
    if header is not None:
        headers["Authorization"] = header
    response = await hooks.client.post("/hooks/alertmanager", data=b"{}", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_unknown_bearer_token_is_404(hooks: Hooks) -> None:
    """A well-formed Bearer header with an unknown token is the same 404 as a bad URL."""
    response = await hooks.client.post(
        "/hooks/alertmanager", data=b"{}", headers={"Authorization": "Bearer nope"}
    )
    assert await answer(response) == (404, {"error": "unknown or revoked webhook"})


def grafana_signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """Grafana's hex HMAC-SHA256 of the body (or of "timestamp:body")."""
    message = body if timestamp is None else f"{timestamp}:".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def test_grafana_signature_is_checked_when_a_secret_is_set(hooks: Hooks) -> None:
    """With a signing secret: no or wrong signature → 401; body or timestamp:body scheme → 202."""
    _, token = await hooks.webhook(AlertSource.GRAFANA, secret="s3cret")
    url = f"/hooks/grafana/{token}"
    body = fixture_bytes(FIRING)
    good = grafana_signature("s3cret", body)
    refused = [
        await hooks.client.post(url, data=body, headers=JSON),
        await hooks.client.post(
            url, data=body, headers={**JSON, "X-Grafana-Alerting-Signature": "00" * 32}
        ),
        await hooks.client.post(  # signed, then tampered with
            url, data=body + b" ", headers={**JSON, "X-Grafana-Alerting-Signature": good}
        ),
    ]
    assert [r.status for r in refused] == [401, 401, 401]
    assert await hooks.alerts() == []
    plain = await hooks.client.post(
        url, data=body, headers={**JSON, "X-Grafana-Alerting-Signature": good}
    )
    stamped = await hooks.client.post(
        url,
        data=body,
        headers={
            **JSON,
            "X-Grafana-Alerting-Timestamp": "1763717287",
            "X-Grafana-Alerting-Signature": grafana_signature("s3cret", body, "1763717287"),
        },
    )
    assert (plain.status, stamped.status) == (202, 202)
    assert [a.count for a in await hooks.alerts()] == [2, 2]


async def test_grafana_without_secret_needs_no_signature(hooks: Hooks) -> None:
    """The HMAC is optional: a Grafana webhook without a secret accepts unsigned bodies."""
    _, token = await hooks.webhook(AlertSource.GRAFANA)
    response = await hooks.client.post(
        f"/hooks/grafana/{token}", data=fixture_bytes(FIRING), headers=JSON
    )
    assert response.status == 202


# --- 405 / 413 / 415 ----------------------------------------------------------------------------


async def test_wrong_method_is_405_with_allow(hooks: Hooks) -> None:
    """GET is for UptimeRobot only; other sources answer 405 naming what they allow."""
    _, token = await hooks.webhook(AM)
    response = await hooks.client.get(f"/hooks/alertmanager/{token}")
    assert await answer(response) == (405, {"error": "method not allowed"})
    assert response.headers["Allow"] == "POST"


async def test_body_above_16_mib_is_413(hooks: Hooks) -> None:
    """A 17 MiB body is refused with 413, whether or not it announces its length."""
    _, token = await hooks.webhook(AM)
    url = f"/hooks/alertmanager/{token}"
    big = b" " * (17 * MIB)
    announced = await hooks.client.post(url, data=big, headers=JSON)

    async def chunks():
        for _ in range(17):
            yield b" " * MIB

    streamed = await hooks.client.post(url, data=chunks(), headers=JSON)
    assert await answer(announced) == (413, {"error": "the body is larger than 16 MiB"})
    assert streamed.status == 413


async def test_body_of_exactly_16_mib_is_read(hooks: Hooks) -> None:
    """16 MiB is still allowed: the JSON inside is parsed (here: padded valid JSON → 202)."""
    _, token = await hooks.webhook(AM)
    body = fixture_bytes(FIRING)
    padded = body + b" " * (16 * MIB - len(body))
    response = await hooks.client.post(f"/hooks/alertmanager/{token}", data=padded, headers=JSON)
    assert response.status == 202


@pytest.mark.parametrize(
    ("source", "content_type"),
    [
        (AM, "text/plain"),
        (AM, "application/x-www-form-urlencoded"),
        (AlertSource.EVENTS, "application/xml"),
        (AlertSource.UPTIMEROBOT, "multipart/form-data; boundary=x"),
        (AlertSource.UPTIMEROBOT, "application/x-www-form-urlencoded; charset=klingon"),
    ],
)
async def test_unsupported_content_type_is_415(
    hooks: Hooks, source: AlertSource, content_type: str
) -> None:
    """Content types a source never sends are refused with 415."""
    _, token = await hooks.webhook(source)
    response = await hooks.client.post(
        f"/hooks/{source}/{token}", data=b"x=1", headers={"Content-Type": content_type}
    )
    assert response.status == 415
    assert "unsupported content type" in (await response.json())["error"]


# --- 429 ----------------------------------------------------------------------------------------


async def test_rate_limit_is_per_token_with_retry_after(make_hooks: HooksFactory) -> None:
    """Past its burst a token gets 429 + Retry-After; another token is unaffected; time heals."""
    now = [0.0]
    hooks = await make_hooks(
        rate_limiter=TokenBucketLimiter(rate=0.5, burst=2, monotonic=lambda: now[0])
    )
    _, busy = await hooks.webhook(AM)
    _, quiet = await hooks.webhook(AM)
    body = fixture_bytes(FIRING)
    statuses = [
        (await hooks.client.post(f"/hooks/alertmanager/{busy}", data=body, headers=JSON))
        for _ in range(3)
    ]
    assert [r.status for r in statuses] == [202, 202, 429]
    assert statuses[2].headers["Retry-After"] == "2"
    other = await hooks.client.post(f"/hooks/alertmanager/{quiet}", data=body, headers=JSON)
    assert other.status == 202
    now[0] = 2.0
    again = await hooks.client.post(f"/hooks/alertmanager/{busy}", data=body, headers=JSON)
    assert again.status == 202


# --- 503 ----------------------------------------------------------------------------------------


async def test_unreachable_database_is_503(make_hooks: HooksFactory) -> None:
    """PostgreSQL on a port nobody listens on: the token cannot be checked, so 503, not 500."""
    engine = create_engine("postgresql+asyncpg://opsroom:opsroom@127.0.0.1:1/opsroom")
    dead = session_factory(engine)
    try:
        hooks = await make_hooks(
            services=Services.build(lambda: SqlUnitOfWork(dead), SystemClock()),
            writer_uow_factory=lambda: SqlUnitOfWork(dead),
        )
        response = await hooks.client.post(
            "/hooks/alertmanager/some-token", data=fixture_bytes(FIRING), headers=JSON
        )
        assert await answer(response) == (503, {"error": "temporarily unavailable"})
        assert response.headers["Retry-After"] == "5"  # every 503 says when to come back
        assert (await hooks.client.get("/healthz")).status == 200
    finally:
        await engine.dispose()


async def test_database_lost_after_authentication_is_503(
    make_hooks: HooksFactory, uow_factory: UowFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Tokens check out but the writer's database is unreachable: 503, nothing pretends, and
    the logged path does not carry the token."""
    engine = create_engine("postgresql+asyncpg://opsroom:opsroom@127.0.0.1:1/opsroom")
    try:
        hooks = await make_hooks(
            writer_uow_factory=lambda: SqlUnitOfWork(session_factory(engine)),
            read_uow_factory=uow_factory,  # token lookups still reach the database
        )
        _, token = await hooks.webhook(AM)
        response = await hooks.client.post(
            f"/hooks/alertmanager/{token}", data=fixture_bytes(FIRING), headers=JSON
        )
        assert (response.status, response.headers["Retry-After"]) == (503, "5")
        assert await hooks.alerts() == []
        assert "/hooks/alertmanager/…" in caplog.text and token not in caplog.text
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_locked_sqlite_is_503_and_the_retry_is_stored_once(
    make_hooks: HooksFactory, database: Database
) -> None:
    """Another process holds SQLite's write lock past busy_timeout: 503; after it lets go, 202."""
    hooks = await make_hooks()
    _, token = await hooks.webhook(AM)
    url, body = f"/hooks/alertmanager/{token}", fixture_bytes(FIRING)
    assert (await hooks.client.post(url, data=body, headers=JSON)).status == 202  # token cached
    path = Path(database.url.removeprefix("sqlite+aiosqlite:///"))
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        locked = await hooks.client.post(url, data=body, headers=JSON)
        assert await answer(locked) == (503, {"error": "temporarily unavailable"})
        assert locked.headers["Retry-After"] == "5"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await asyncio.sleep(0)
    retried = await hooks.client.post(url, data=body, headers=JSON)
    assert (await answer(retried))[1]["outcomes"] == {"repeat": 2}
    assert [a.count for a in await hooks.alerts()] == [2, 2]


async def test_corrupt_compressed_body_is_400(hooks: Hooks) -> None:
    """A body that does not match its Content-Encoding is a 400 naming the encoding."""
    _, token = await hooks.webhook(AM)
    response = await hooks.client.post(
        f"/hooks/alertmanager/{token}",
        data=b"this is not gzip",
        headers={**JSON, "Content-Encoding": "gzip", "Connection": "close"},
    )
    status, body = await answer(response)
    assert (status, body["error"]) == (400, "the body is not valid gzip data")

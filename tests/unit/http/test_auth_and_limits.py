"""Bearer parsing, Grafana's HMAC signature, the token cache, the per-webhook token bucket,
the metrics object."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters.http.auth import WebhookAuthenticator, bearer_token, signature_valid
from bot.adapters.http.ratelimit import BURST, RATE_PER_SECOND, TokenBucketLimiter, retry_after
from bot.adapters.metrics import Metrics
from bot.core.alerts import AlertSource
from bot.core.errors import NotFoundError, StorageUnavailableError
from bot.core.webhooks import Webhook, hash_token


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic abc", None),
        ("Bearer a b", None),
        ("Token abc", None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    """Only `Bearer <one token>` yields a token (scheme case-insensitive)."""
    assert bearer_token(header) == token


def sign(secret: str, message: bytes) -> str:
    """Hex HMAC-SHA256."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_signature_over_the_body() -> None:
    """The plain scheme: hex HMAC-SHA256 of the raw body; case and a sha256= prefix tolerated."""
    body = b'{"alerts": []}'
    good = sign("k", body)
    assert signature_valid("k", body, {"X-Grafana-Alerting-Signature": good})
    assert signature_valid("k", body, {"X-Grafana-Alerting-Signature": good.upper()})
    assert signature_valid("k", body, {"X-Grafana-Alerting-Signature": f"sha256={good}"})
    assert not signature_valid("other", body, {"X-Grafana-Alerting-Signature": good})
    assert not signature_valid("k", body + b" ", {"X-Grafana-Alerting-Signature": good})
    assert not signature_valid("k", body, {})
    assert not signature_valid("k", body, {"X-Grafana-Alerting-Signature": "é" * 64})


@pytest.mark.parametrize(
    "header", ["X-Grafana-Alerting-Timestamp", "X-Grafana-Alerting-Signature-Timestamp"]
)
def test_signature_with_a_timestamp(header: str) -> None:
    """With a timestamp header Grafana signs "timestamp:body"; the body alone no longer fits."""
    body = b"{}"
    headers = {header: "1763717287", "X-Grafana-Alerting-Signature": sign("k", b"1763717287:{}")}
    assert signature_valid("k", body, headers)
    headers["X-Grafana-Alerting-Signature"] = sign("k", body)
    assert not signature_valid("k", body, headers)


def test_token_bucket_burst_rate_and_independence() -> None:
    """A burst passes, the next waits 1/rate; other keys are unaffected; time refills."""
    now = [100.0]
    limiter = TokenBucketLimiter(rate=2.0, burst=3, monotonic=lambda: now[0])
    assert [limiter.acquire(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire(1) == pytest.approx(0.5)
    assert limiter.acquire(2) == 0.0
    now[0] += 0.5
    assert limiter.acquire(1) == 0.0
    assert limiter.acquire(1) > 0


def test_defaults_and_retry_after() -> None:
    """The documented defaults, and Retry-After in whole seconds, at least 1."""
    assert (RATE_PER_SECOND, BURST) == (20.0, 100)
    assert [retry_after(s) for s in (0.01, 1.0, 1.2)] == ["1", "1", "2"]
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=0)


def test_metrics_expose_every_family() -> None:
    """Each metric the relay and escalation need exists under its documented name."""
    metrics = Metrics()
    metrics.alert_received("events", "new")
    metrics.webhook_request("events", 202)
    metrics.set_relay_queue_depth(3)
    metrics.discord_message_sent()
    metrics.discord_429()
    metrics.escalation("oncall")
    text = metrics.render().decode()
    for line in (
        'opsroom_alerts_received_total{outcome="new",source="events"} 1.0',
        'opsroom_webhook_requests_total{source="events",status="202"} 1.0',
        "opsroom_relay_queue_depth 3.0",
        "opsroom_discord_messages_sent_total 1.0",
        "opsroom_discord_rate_limited_total 1.0",
        'opsroom_escalations_total{target="oncall"} 1.0',
        "opsroom_ingest_queue_depth 0.0",
    ):
        assert line in text, line


class Tokens:
    """A stand-in for WebhookService.authenticate: counts lookups, can be held or broken."""

    def __init__(self) -> None:
        self.known = {"good": webhook(1)}
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def authenticate(self, token: str, source: AlertSource | None = None) -> Webhook:
        self.calls += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            if self.error is not None:
                raise self.error
            if token not in self.known:
                raise NotFoundError("Unknown webhook token.")
            return self.known[token]
        finally:
            self.running -= 1


def webhook(webhook_id: int) -> Webhook:
    made = datetime(2026, 3, 1, tzinfo=UTC)
    return Webhook(1, AM, "am", hash_token(str(webhook_id)), made, id=webhook_id)


AM = AlertSource.ALERTMANAGER


def authenticator(tokens: Tokens, now: list[float], **options: Any) -> WebhookAuthenticator:
    return WebhookAuthenticator(tokens, monotonic=lambda: now[0], **options)  # type: ignore[arg-type]


async def test_answers_are_cached_and_concurrent_lookups_shared() -> None:
    """Ten simultaneous requests with one token: one lookup; within the TTL, none."""
    tokens, now = Tokens(), [100.0]
    auth = authenticator(tokens, now, ttl=5)
    found = await asyncio.gather(*(auth.authenticate("good", AM) for _ in range(10)))
    assert {w.id for w in found} == {1} and tokens.calls == 1
    now[0] += 3.9
    await auth.authenticate("good", AM)
    assert tokens.calls == 1


async def test_misses_are_cached_and_expiry_notices_a_revoked_token() -> None:
    """An unknown token is a cached miss; after the TTL a revoked token is refused."""
    tokens, now = Tokens(), [100.0]
    auth = authenticator(tokens, now, ttl=5)
    for _ in range(3):
        with pytest.raises(NotFoundError):
            await auth.authenticate("bad", AM)
    assert tokens.calls == 1
    await auth.authenticate("good", AM)
    del tokens.known["good"]  # revoked
    now[0] += 5.0
    with pytest.raises(NotFoundError):
        await auth.authenticate("good", AM)


async def test_an_answer_about_to_expire_is_used_and_refreshed_in_the_background() -> None:
    """In its last second the cached answer is given at once (even while the database is
    slow) and looked up again once in the background; the new answer then counts."""
    tokens, now = Tokens(), [100.0]
    auth = authenticator(tokens, now, ttl=5, refresh_ahead=1)
    await auth.authenticate("good", AM)
    now[0] += 4.5
    tokens.gate = asyncio.Event()  # the refresh hangs until released
    for _ in range(5):
        assert (await auth.authenticate("good", AM)).id == 1
    await asyncio.sleep(0)
    assert tokens.calls == 2  # one refresh, shared
    del tokens.known["good"]
    tokens.gate.set()
    await asyncio.sleep(0.01)
    now[0] += 0.1
    with pytest.raises(NotFoundError):  # the refreshed answer: revoked
        await auth.authenticate("good", AM)


async def test_a_failed_refresh_keeps_the_answer_until_it_expires() -> None:
    """Storage trouble during a background refresh is not cached and not raised; once the
    answer has expired, the request's own lookup reports it."""
    tokens, now = Tokens(), [100.0]
    auth = authenticator(tokens, now, ttl=5, refresh_ahead=1)
    await auth.authenticate("good", AM)
    tokens.error = StorageUnavailableError("database down")
    now[0] += 4.5
    assert (await auth.authenticate("good", AM)).id == 1
    await asyncio.sleep(0.01)
    assert (await auth.authenticate("good", AM)).id == 1
    now[0] += 1.0
    with pytest.raises(StorageUnavailableError):
        await auth.authenticate("good", AM)


async def test_lookups_run_at_most_a_few_at_a_time() -> None:
    """Thirty-two new tokens at once: every one is answered, never more than four lookups
    running together."""
    tokens, now = Tokens(), [100.0]
    tokens.known = {str(n): webhook(n) for n in range(32)}
    auth = authenticator(tokens, now, ttl=5, max_lookups=4)
    found = await asyncio.gather(*(auth.authenticate(str(n), AM) for n in range(32)))
    assert sorted(w.id for w in found) == list(range(32))
    assert tokens.calls == 32 and tokens.most_at_once == 4
    await auth.close()

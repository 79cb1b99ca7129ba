"""Bearer parsing, Grafana's HMAC signature, the per-webhook token bucket, the metrics object."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.adapters.http.auth import bearer_token, signature_valid
from bot.adapters.http.ratelimit import BURST, RATE_PER_SECOND, TokenBucketLimiter, retry_after
from bot.adapters.metrics import Metrics


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

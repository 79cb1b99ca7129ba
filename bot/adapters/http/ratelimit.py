"""Per-webhook request rate limit: an in-memory token bucket for each webhook id.

The limits are per process: with several web processes each keeps its own buckets, which is
fine for a guard whose job is to stop one runaway sender from starving the others.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

RATE_PER_SECOND = 20.0
"""Sustained requests per second one webhook may send (an alert storm is batched by
Alertmanager into far fewer requests; 20/s is well above any honest sender)."""

BURST = 100
"""Requests a quiet webhook may send at once before the rate applies."""

MAX_BUCKETS = 10_000
"""Above this many tracked webhooks, buckets that are full again are forgotten."""


class TokenBucketLimiter:
    """`acquire(key)` → 0 when the request may go ahead, else seconds until one may."""

    def __init__(
        self,
        rate: float = RATE_PER_SECOND,
        burst: int = BURST,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self._monotonic = monotonic
        self._buckets: dict[int, tuple[float, float]] = {}  # key → (tokens, at)

    def acquire(self, key: int) -> float:
        """Take one token for `key`; when none is left, say how long until there is one."""
        now = self._monotonic()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they behave exactly like new ones."""
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.rate >= self.burst:
                del self._buckets[key]


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))

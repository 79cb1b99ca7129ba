"""Rate limits as Discord applies them: per-route buckets keyed by major parameters, a
per-channel message-creation limit, a global limit, and fault injection.

Every 429 the double gives is recorded; ``provoked`` counts those the client earned by
ignoring the headers (tests assert it stays zero), ``injected`` those a test asked for.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

MESSAGE_ROUTE = "POST /channels/{channel_id}/messages"
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")


def _ceil_ms(seconds: float) -> float:
    """Round up to the millisecond, so a client sleeping this long is never early."""
    return max(math.ceil(seconds * 1000) / 1000, 0.001)


@dataclass
class Bucket:
    """A fixed window that opens at the first request after the previous one expired."""

    limit: int
    per: float
    hash: str
    count: int = 0
    window_end: float = 0.0

    def roll(self, now: float) -> None:
        if now >= self.window_end:
            self.count = 0
            self.window_end = now + self.per

    def headers(self, now: float) -> dict[str, str]:
        reset_after = _ceil_ms(self.window_end - now)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - self.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass
class Fault:
    """Answer the next ``count`` requests on ``route`` (any route when None) with ``status``.

    With ``after_commit`` the request is carried out first and the error answered after,
    like a Discord that created the message but lost the response. With ``params`` only
    requests whose route parameters include these (e.g. ``{"channel_id": "12"}``) are hit.
    """

    route: str | None
    status: int
    count: int
    retry_after: float = 0.1
    scope: str = "user"
    after_commit: bool = False
    used: int = 0
    params: dict[str, str] | None = None

    def hits(self, route: str, params: dict[str, str]) -> bool:
        """Whether this fault answers a request on `route` with these parameters."""
        if self.used >= self.count or self.route not in (None, route):
            return False
        return all(params.get(key) == value for key, value in (self.params or {}).items())


@dataclass
class RateLimitRecord:
    method: str
    path: str
    route: str
    scope: str
    retry_after: float
    injected: bool
    at: float = field(default_factory=time.monotonic)


@dataclass
class Decision:
    status: int
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    fault: Fault | None = None


class RateLimiter:
    """The double's rate-limit authority; configure it before or during a test."""

    def __init__(
        self,
        *,
        message_limit: tuple[int, float] = (5, 5.0),
        global_limit: tuple[int, float] = (50, 1.0),
        default_limit: tuple[int, float] = (50, 1.0),
        route_limits: dict[str, tuple[int, float]] | None = None,
    ) -> None:
        self.default_limit = default_limit
        self.global_limit = global_limit
        self.route_limits: dict[str, tuple[int, float]] = {MESSAGE_ROUTE: message_limit}
        self.route_limits.update(route_limits or {})
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self._global_count = 0
        self._global_end = 0.0
        self.faults: list[Fault] = []
        self.given: list[RateLimitRecord] = []
        self._sub: dict[str, list[float]] = {}

    # -- configuration ---------------------------------------------------------------------

    def set_route(self, route: str, limit: int, per: float) -> None:
        """Limit ``route`` ("METHOD /template") to ``limit`` requests per ``per`` seconds."""
        self.route_limits[route] = (limit, per)
        for key in [k for k in self.buckets if k[0] == route]:
            del self.buckets[key]

    def inject(
        self,
        route: str | None = None,
        *,
        status: int = 429,
        count: int = 1,
        retry_after: float = 0.1,
        scope: str = "user",
        after_commit: bool = False,
        params: dict[str, str] | None = None,
    ) -> Fault:
        fault = Fault(route, status, count, retry_after, scope, after_commit, params=params)
        self.faults.append(fault)
        return fault

    # -- accounting ------------------------------------------------------------------------

    @property
    def provoked_429s(self) -> int:
        return sum(1 for r in self.given if not r.injected)

    @property
    def injected_429s(self) -> int:
        return sum(1 for r in self.given if r.injected)

    def bucket(self, route: str, params: dict[str, str]) -> Bucket:
        major = "+".join(params[k] for k in MAJOR_PARAMETERS if k in params)
        key = (route, major)
        if key not in self.buckets:
            limit, per = self.route_limits.get(route, self.default_limit)
            digest = hashlib.md5(route.encode(), usedforsecurity=False).hexdigest()
            self.buckets[key] = Bucket(limit, per, digest)
        return self.buckets[key]

    def _take_fault(self, route: str, params: dict[str, str]) -> Fault | None:
        for fault in self.faults:
            if fault.hits(route, params):
                fault.used += 1
                return fault
        return None

    def _too_many(
        self,
        method: str,
        path: str,
        route: str,
        *,
        retry_after: float,
        scope: str,
        injected: bool,
        headers: dict[str, str],
    ) -> Decision:
        self.given.append(RateLimitRecord(method, path, route, scope, retry_after, injected))
        is_global = scope == "global"
        headers = {
            **headers,
            "Via": "1.1 google",
            "X-RateLimit-Scope": scope,
            "Retry-After": str(math.ceil(retry_after)),
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        return Decision(429, headers, body)

    def admit(
        self, method: str, path: str, route: str, params: dict[str, str], *, global_exempt: bool
    ) -> Decision:
        """Decide a request: status 0 means go ahead (with these headers), else answer now."""
        now = time.monotonic()
        bucket = self.bucket(route, params)
        bucket.roll(now)
        fault = self._take_fault(route, params)
        if fault is not None and not fault.after_commit:
            headers = bucket.headers(now)
            if fault.status == 429:
                return self._too_many(
                    method,
                    path,
                    route,
                    retry_after=fault.retry_after,
                    scope=fault.scope,
                    injected=True,
                    headers=headers,
                )
            body = {"message": "Server error (injected)", "code": 0}
            return Decision(fault.status, headers, body)
        if not global_exempt and now >= self._global_end:
            self._global_count, self._global_end = 0, now + self.global_limit[1]
        decision = None
        if not global_exempt and self._global_count >= self.global_limit[0]:
            decision = self._too_many(
                method,
                path,
                route,
                retry_after=_ceil_ms(self._global_end - now),
                scope="global",
                injected=False,
                headers={},
            )
        elif bucket.count >= bucket.limit:
            decision = self._too_many(
                method,
                path,
                route,
                retry_after=_ceil_ms(bucket.window_end - now),
                scope="user",
                injected=False,
                headers=bucket.headers(now),
            )
        if decision is not None:
            if fault is not None:
                fault.used -= 1  # an after-commit fault waits for a request that goes through
            return decision
        if not global_exempt:
            self._global_count += 1
        bucket.count += 1
        return Decision(0, bucket.headers(now), fault=fault)

    def sub_limit(
        self, method: str, path: str, route: str, key: str, limit: int, per: float
    ) -> Decision | None:
        """A hidden sub-limit (no headers announce it), like channel renames: a 429 when hit."""
        now = time.monotonic()
        recent = [t for t in self._sub.get(key, []) if now - t < per]
        if len(recent) >= limit:
            retry_after = _ceil_ms(per - (now - recent[0]))
            return self._too_many(
                method,
                path,
                route,
                retry_after=retry_after,
                scope="user",
                injected=False,
                headers={},
            )
        self._sub[key] = [*recent, now]
        return None

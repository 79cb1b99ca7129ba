"""Who is calling: Bearer tokens, a short-lived token cache, and Grafana's HMAC signature."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

from bot.core.alerts import AlertSource
from bot.core.errors import NotFoundError
from bot.core.services import WebhookService
from bot.core.webhooks import Webhook, hash_token

CACHE_SECONDS = 5.0
"""How long an authentication answer is reused; the price is that a revoked token keeps
working for up to this long. Lookups run in read-only units of work, so they no longer queue
behind the webhook writer for SQLite's lock, but each is still a transaction of its own:
with 32 senders on 32 tokens and no cache, ingest fell from ~2,000 to ~300 requests/s in
bench/ingest.py (`--auth-cache 0`). Concurrent lookups of one token share one query."""

MAX_CACHED = 10_000

REFRESH_AHEAD_SECONDS = 1.0
"""A cached answer used in its last second is refreshed in the background: otherwise every
sender's entry, cached in the same burst, expires in the same moment every `CACHE_SECONDS`,
and a wave of lookups stalls all of them at once (the webhook p99, bench/RESULTS.md)."""

MAX_CONCURRENT_LOOKUPS = 4
"""Lookups running at once; more queue. Kept under the connection pool's 5, so a wave of
new senders does not open and close overflow connections: 32 cold lookups took ~20 ms
this way, 40–90 ms all at once (SQLite / PostgreSQL, bench machine)."""

_Key = tuple[str, AlertSource]

SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
TIMESTAMP_HEADERS = ("X-Grafana-Alerting-Timestamp", "X-Grafana-Alerting-Signature-Timestamp")
"""Grafana signs `timestamp + ":" + body` when a timestamp header is configured. The header
has no default name; these are the two names in use (Grafana's provisioning examples use
the first). A request carrying neither is checked as a signature of the body alone."""


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None if absent or malformed."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def signature_valid(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    signature_header: str | None = None,
    timestamp_header: str | None = None,
) -> bool:
    """Whether the Grafana HMAC-SHA256 signature header matches, compared in constant time.

    `signature_header` and `timestamp_header` are the names a contact point was given
    instead of Grafana's defaults; with a `timestamp_header`, only that one is read.
    """
    given = headers.get(signature_header or SIGNATURE_HEADER, "").strip().lower()
    given = given.removeprefix("sha256=")
    if not given:
        return False
    names = (timestamp_header,) if timestamp_header else TIMESTAMP_HEADERS
    timestamp = next((headers[name] for name in names if headers.get(name)), None)
    message = body if timestamp is None else timestamp.strip().encode() + b":" + body
    expected = hmac.new(secret.encode("utf-8", "surrogatepass"), message, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest().encode(), given.encode("utf-8", "replace"))


class WebhookAuthenticator:
    """`WebhookService.authenticate` with answers (found or not) cached for a few seconds.

    Concurrent lookups of the same token share one database query, and at most
    `max_lookups` run at once. An answer in its last `refresh_ahead` seconds is still used,
    and refreshed in the background, so under steady traffic no request waits for a lookup;
    no answer older than `ttl` is ever used.
    """

    def __init__(
        self,
        webhooks: WebhookService,
        *,
        ttl: float = CACHE_SECONDS,
        refresh_ahead: float = REFRESH_AHEAD_SECONDS,
        max_lookups: int = MAX_CONCURRENT_LOOKUPS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._webhooks = webhooks
        self._ttl = ttl
        self._refresh_ahead = min(refresh_ahead, ttl / 2)
        self._lookups = asyncio.Semaphore(max_lookups)
        self._monotonic = monotonic
        self._cache: dict[_Key, tuple[float, Webhook | None]] = {}
        self._inflight: dict[_Key, asyncio.Future[Webhook | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def authenticate(self, token: str, source: AlertSource) -> Webhook:
        """The active webhook of `source` behind `token`; NotFoundError for every kind of miss."""
        key = (hash_token(token), source)
        now = self._monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            if cached[0] - now <= self._refresh_ahead and key not in self._inflight:
                self._look_up(key, token, source)  # in the background; answer from the cache
            webhook = cached[1]
        else:
            pending = self._inflight.get(key)
            if pending is None:
                pending = self._look_up(key, token, source)
            webhook = await asyncio.shield(pending)
        if webhook is None:
            raise NotFoundError("Unknown webhook token.")
        return webhook

    async def close(self) -> None:
        """Cancel lookups still running (the app is shutting down)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _look_up(
        self, key: _Key, token: str, source: AlertSource
    ) -> asyncio.Future[Webhook | None]:
        """Start one lookup of the token, which every caller meanwhile waits for."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Webhook | None] = loop.create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # seen, if unused
        self._inflight[key] = future
        task = loop.create_task(self._ask(key, token, source, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return future

    async def _ask(
        self, key: _Key, token: str, source: AlertSource, future: asyncio.Future[Webhook | None]
    ) -> None:
        """Ask the database; cache the answer (found or not), never an error."""
        try:
            async with self._lookups:
                try:
                    webhook: Webhook | None = await self._webhooks.authenticate(token, source)
                except NotFoundError:
                    webhook = None
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # storage errors reach every waiter, uncached (a failed
            future.set_exception(exc)  # refresh leaves the cached answer until it expires)
        else:
            if self._ttl > 0:
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()
                self._cache[key] = (self._monotonic() + self._ttl, webhook)
            future.set_result(webhook)
        finally:
            del self._inflight[key]
            if not future.done():  # anything else: no waiter is left hanging
                future.cancel()

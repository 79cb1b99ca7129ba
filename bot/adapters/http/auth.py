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


def signature_valid(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether the Grafana HMAC-SHA256 signature header matches, compared in constant time."""
    given = headers.get(SIGNATURE_HEADER, "").strip().lower().removeprefix("sha256=")
    if not given:
        return False
    timestamp = next((headers[name] for name in TIMESTAMP_HEADERS if headers.get(name)), None)
    message = body if timestamp is None else timestamp.strip().encode() + b":" + body
    expected = hmac.new(secret.encode("utf-8", "surrogatepass"), message, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest().encode(), given.encode("utf-8", "replace"))


class WebhookAuthenticator:
    """`WebhookService.authenticate` with answers (found or not) cached for a few seconds.

    Concurrent lookups of the same token share one database query.
    """

    def __init__(
        self,
        webhooks: WebhookService,
        *,
        ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._webhooks = webhooks
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[tuple[str, AlertSource], tuple[float, Webhook | None]] = {}
        self._inflight: dict[tuple[str, AlertSource], asyncio.Future[Webhook | None]] = {}

    async def authenticate(self, token: str, source: AlertSource) -> Webhook:
        """The active webhook of `source` behind `token`; NotFoundError for every kind of miss."""
        cache_key = (hash_token(token), source)
        now = self._monotonic()
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > now:
            webhook = cached[1]
        elif cache_key in self._inflight:
            webhook = await asyncio.shield(self._inflight[cache_key])
        else:
            webhook = await self._look_up(cache_key, token, source)
        if webhook is None:
            raise NotFoundError("Unknown webhook token.")
        return webhook

    async def _look_up(
        self, cache_key: tuple[str, AlertSource], token: str, source: AlertSource
    ) -> Webhook | None:
        """Ask the database once, letting concurrent callers wait for the same answer."""
        future: asyncio.Future[Webhook | None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[cache_key] = future
        try:
            try:
                webhook: Webhook | None = await self._webhooks.authenticate(token, source)
            except NotFoundError:
                webhook = None
        except BaseException as exc:  # storage errors reach every waiter, uncached
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
            raise
        finally:
            del self._inflight[cache_key]
        if self._ttl > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[cache_key] = (self._monotonic() + self._ttl, webhook)
        future.set_result(webhook)
        return webhook

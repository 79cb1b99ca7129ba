"""Webhook routes: `/hooks/{source}/{token}`, `/hooks/{source}` with a Bearer token, and
`POST /hooks/events` with the token as `routing_key` (PagerDuty clients with a URL override).

Checks run cheapest first, so a bad token or a flood costs no body read and no parse:
source and method → token (404 for every kind of miss, 401 for a malformed Authorization)
→ rate (429) → body size (413) → signature (401) → content type (415) → payload (400) →
durable store (202 after commit, 503 when the database cannot take it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.adapters.http.auth import WebhookAuthenticator, bearer_token, signature_valid
from bot.adapters.http.errors import HttpError
from bot.adapters.http.ingest import IngestWriter
from bot.adapters.http.parsers import PARSERS, events
from bot.adapters.http.ratelimit import TokenBucketLimiter, retry_after
from bot.core.alerts import AlertSignal, AlertSource
from bot.core.errors import NotFoundError
from bot.core.webhooks import Webhook

MAX_BODY = 16 * 1024 * 1024
"""Largest accepted body (16 MiB); a 500-alert Alertmanager group is about 131 KB."""

NOT_FOUND = "unknown or revoked webhook"
METHODS: dict[AlertSource, frozenset[str]] = {
    AlertSource.UPTIMEROBOT: frozenset({"GET", "POST"}),
    AlertSource.ALERTMANAGER: frozenset({"POST"}),
    AlertSource.GRAFANA: frozenset({"POST", "PUT"}),  # Grafana's contact point can use PUT
    AlertSource.EVENTS: frozenset({"POST"}),
}


@dataclass(frozen=True)
class WebhookRoutes:
    """What the handlers need, kept on the application."""

    authenticator: WebhookAuthenticator
    limiter: TokenBucketLimiter
    writer: IngestWriter


ROUTES_KEY = web.AppKey("webhook_routes", WebhookRoutes)


def _source(request: web.Request) -> AlertSource:
    """The path's source, checked against the method; unknown sources look like bad tokens."""
    try:
        source = AlertSource(request.match_info["source"])
    except ValueError:
        raise HttpError(404, NOT_FOUND) from None
    allowed = METHODS[source]
    if request.method not in allowed:
        raise HttpError(405, "method not allowed", {"Allow": ", ".join(sorted(allowed))})
    return source


async def hook_by_path(request: web.Request) -> web.Response:
    """`/hooks/{source}/{token}`: the URL printed when a webhook is made."""
    source = _source(request)
    return await _ingest(request, source, request.match_info["token"])


async def hook_by_header(request: web.Request) -> web.Response:
    """`/hooks/{source}` with `Authorization: Bearer <token>` (or `routing_key` for events)."""
    source = _source(request)
    header = request.headers.get("Authorization")
    if header is None and source is AlertSource.EVENTS:
        return await _ingest(request, source, None)
    token = bearer_token(header)
    if token is None:
        raise HttpError(
            401,
            "an Authorization: Bearer <token> header is required",
            {"WWW-Authenticate": 'Bearer realm="opsroom"'},
        )
    return await _ingest(request, source, token)


async def _authorize(request: web.Request, token: str, source: AlertSource) -> Webhook:
    """The webhook behind the token, within its rate; 404 / 429 otherwise."""
    routes = request.app[ROUTES_KEY]
    try:
        webhook = await routes.authenticator.authenticate(token, source)
    except NotFoundError:
        raise HttpError(404, NOT_FOUND) from None
    assert webhook.id is not None
    wait = routes.limiter.acquire(webhook.id)
    if wait > 0:
        raise HttpError(
            429, "too many requests for this webhook", {"Retry-After": retry_after(wait)}
        )
    return webhook


async def _body(request: web.Request) -> bytes:
    """The raw body, refusing anything above MAX_BODY before reading it when it says so."""
    if request.method == "GET":
        return b""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise HttpError(413, "the body is larger than 16 MiB")
    try:
        return await request.read()
    except web.RequestPayloadError as exc:  # e.g. a Content-Encoding the bytes do not match
        detail = str(exc).split("message:", 1)[-1].strip()
        raise HttpError(400, f"the body cannot be read: {detail}") from None
    except ConnectionError:  # the sender went away mid-body; nobody will read the answer
        raise HttpError(400, "the body was cut short") from None


def _check_signature(webhook: Webhook, body: bytes, request: web.Request) -> None:
    """Webhooks with a signing secret accept only bodies signed with it (Grafana's HMAC)."""
    if webhook.signing_secret and not signature_valid(
        webhook.signing_secret, body, request.headers
    ):
        raise HttpError(401, "missing or invalid X-Grafana-Alerting-Signature")


async def _ingest(request: web.Request, source: AlertSource, token: str | None) -> web.Response:
    """Authenticate, parse, store durably, answer."""
    webhook = await _authorize(request, token, source) if token is not None else None
    body = await _body(request)
    content_type = request.headers.get("Content-Type")
    if source is AlertSource.EVENTS:
        if webhook is None:
            event = events.parse_event(content_type, body, request.query)
            if event.routing_key is None:
                raise HttpError(400, "routing_key is missing")
            webhook = await _authorize(request, event.routing_key, source)
            _check_signature(webhook, body, request)
        else:
            _check_signature(webhook, body, request)
            event = events.parse_event(content_type, body, request.query)
        await _store(request, webhook, [event.signal])
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
            status=202,
        )
    assert webhook is not None  # only events may name their token in the body
    _check_signature(webhook, body, request)
    signals = PARSERS[source](content_type, body, request.query)
    outcomes = await _store(request, webhook, signals)
    return web.json_response(
        {
            "status": "success",
            "message": "Event processed",
            "alerts": len(signals),
            "outcomes": outcomes,
        },
        status=202,
    )


async def _store(
    request: web.Request, webhook: Webhook, signals: Sequence[AlertSignal]
) -> dict[str, int]:
    """Hand the signals to the writer and wait for the commit; outcome counts."""
    if not signals:
        return {}
    results = await request.app[ROUTES_KEY].writer.submit(webhook, signals)
    return dict(Counter(result.outcome.value for result in results))


def add_webhook_routes(app: web.Application, routes: WebhookRoutes) -> None:
    """Mount the webhook routes (every method, so wrong ones get a JSON 405)."""
    app[ROUTES_KEY] = routes
    app.router.add_route("*", "/hooks/{source}/{token}", hook_by_path)
    app.router.add_route("*", "/hooks/{source}", hook_by_header)

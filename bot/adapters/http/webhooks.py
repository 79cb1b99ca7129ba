"""Webhook routes: `/hooks/{source}/{token}`, `/hooks/{source}` with a Bearer token, and
`POST /hooks/events` with the token as `routing_key` (PagerDuty clients with a URL override),
also as `/hooks/events/v2/enqueue` and `/v2/enqueue`, the paths PagerDuty's client libraries
append to a base URL.

Checks run cheapest first, so a bad token or a flood costs no body read and no parse:
source and method → Content-Encoding (415) → token (404 for every kind of miss, 401 for a
malformed Authorization) → rate (429) → body size, inflated or not (413) → signature (401)
→ content type (415) → payload (400) → durable store (202 after commit, 503 when the
database cannot take it). An Events body that names its token inside is read before the
token is known, so it is capped at PagerDuty's 512 KiB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.adapters.http.auth import (
    SIGNATURE_HEADER,
    WebhookAuthenticator,
    bearer_token,
    signature_valid,
)
from bot.adapters.http.bodies import MAX_BODY, MAX_EVENT_BODY, content_encoding, read_body
from bot.adapters.http.errors import EVENTS_CLIENT_PATHS, HttpError
from bot.adapters.http.ingest import IngestWriter
from bot.adapters.http.parsers import PARSERS, events
from bot.adapters.http.ratelimit import TokenBucketLimiter, retry_after
from bot.core.alerts import AlertSignal, AlertSource
from bot.core.errors import NotFoundError
from bot.core.services import HeartbeatService
from bot.core.webhooks import Webhook

NOT_FOUND = "unknown or revoked webhook"
METHODS: dict[AlertSource, frozenset[str]] = {
    AlertSource.UPTIMEROBOT: frozenset({"GET", "POST"}),
    AlertSource.ALERTMANAGER: frozenset({"POST"}),
    AlertSource.GRAFANA: frozenset({"POST", "PUT"}),  # Grafana's contact point can use PUT
    AlertSource.EVENTS: frozenset({"POST"}),
    AlertSource.UPTIMEKUMA: frozenset({"GET", "POST"}),  # its Webhook provider can use GET
    # Any sender: cron's curl (GET), a load balancer's probe (HEAD), Alertmanager (POST).
    AlertSource.HEARTBEAT: frozenset({"GET", "HEAD", "POST"}),
}


@dataclass(frozen=True)
class WebhookRoutes:
    """What the handlers need, kept on the application."""

    authenticator: WebhookAuthenticator
    limiter: TokenBucketLimiter
    writer: IngestWriter
    heartbeats: HeartbeatService | None = None


ROUTES_KEY = web.AppKey("webhook_routes", WebhookRoutes)


def _source(request: web.Request) -> AlertSource:
    """The path's source, checked against the method and the body's encoding; unknown
    sources look like bad tokens."""
    try:
        source = AlertSource(request.match_info.get("source", AlertSource.EVENTS.value))
    except ValueError:
        raise HttpError(404, NOT_FOUND) from None
    allowed = METHODS.get(source)
    if allowed is None:  # a source no webhook can have (certificate alerts)
        raise HttpError(404, NOT_FOUND)
    if request.method not in allowed:
        raise HttpError(405, "method not allowed", {"Allow": ", ".join(sorted(allowed))})
    content_encoding(request)
    return source


async def hook_by_path(request: web.Request) -> web.Response:
    """`/hooks/{source}/{token}`: the URL printed when a webhook is made."""
    source = _source(request)
    return await _ingest(request, source, request.match_info["token"])


async def hook_by_header(request: web.Request) -> web.Response:
    """`/hooks/{source}` with `Authorization: Bearer <token>` (or `routing_key` for events,
    also on the Events v2 client paths)."""
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


def _check_signature(webhook: Webhook, body: bytes, request: web.Request) -> None:
    """Webhooks with a signing secret accept only bodies signed with it (Grafana's HMAC)."""
    if webhook.signing_secret and not signature_valid(
        webhook.signing_secret,
        body,
        request.headers,
        signature_header=webhook.signature_header,
        timestamp_header=webhook.timestamp_header,
    ):
        header = webhook.signature_header or SIGNATURE_HEADER
        raise HttpError(401, f"missing or invalid {header}")


async def _ingest(request: web.Request, source: AlertSource, token: str | None) -> web.Response:
    """Authenticate, parse, store durably, answer."""
    webhook = await _authorize(request, token, source) if token is not None else None
    if source is AlertSource.HEARTBEAT:
        assert webhook is not None
        return await _ping(request, webhook)
    body = await read_body(request, MAX_EVENT_BODY if source is AlertSource.EVENTS else MAX_BODY)
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


async def _ping(request: web.Request, webhook: Webhook) -> web.Response:
    """A heartbeat: whatever the body says, its arrival is the news (the body is not read)."""
    heartbeats = request.app[ROUTES_KEY].heartbeats
    if heartbeats is None or await heartbeats.ping(webhook) is None:
        raise HttpError(404, NOT_FOUND)
    return web.json_response({"status": "success", "message": "Heartbeat received"}, status=202)


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
    for path in EVENTS_CLIENT_PATHS:
        app.router.add_route("*", path, hook_by_header)

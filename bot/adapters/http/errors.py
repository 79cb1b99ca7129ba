"""Every HTTP failure as a JSON answer, and never a 500: the unexpected becomes a logged 503.

Webhook senders retry on 5xx and give up on 4xx, so an error we did not foresee must be a
503 ("try again"), never a 500 and never a 4xx that would drop the alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.adapters.http.parsers import PayloadError, UnsupportedMediaTypeError
from bot.adapters.metrics import Metrics
from bot.core.alerts import AlertSource
from bot.core.errors import ConflictError, StorageUnavailableError

log = logging.getLogger(__name__)

UNAVAILABLE = "temporarily unavailable"
RETRY_AFTER_SECONDS = 5
"""What a 503 asks a sender to wait: long enough for a locked or briefly full database to
recover, short enough that an alert is late by seconds, not minutes."""
_SOURCES = frozenset(source.value for source in AlertSource)
EVENTS_CLIENT_PATHS = ("/hooks/events/v2/enqueue", "/v2/enqueue")
"""Where PagerDuty's client libraries post (they append `/v2/enqueue` to a base URL)."""
_MESSAGES = {
    404: "not found",
    405: "method not allowed",
    413: "the body is larger than 16 MiB",
}


class HttpError(Exception):
    """A deliberate error answer: status, one-line message, optional headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """`{"error": message}` with the status; every 503 says when to retry."""
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return web.json_response({"error": message}, status=status, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    """aiohttp's own errors (no route, wrong method, body too large) in our JSON shape."""
    headers = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
    return json_error(exc.status, _MESSAGES.get(exc.status, exc.reason.lower()), headers)


def error_middleware(metrics: Metrics | None = None) -> Middleware:
    """The middleware: known errors → their 4xx/503, anything else → logged 503."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        is_events_path = request.path in EVENTS_CLIENT_PATHS
        try:
            response = await handler(request)
        except HttpError as exc:
            response = json_error(exc.status, exc.message, exc.headers)
        except PayloadError as exc:
            response = json_error(400, exc.reason)
        except UnsupportedMediaTypeError as exc:
            response = json_error(415, str(exc))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _from_http_exception(exc)
        except StorageUnavailableError as exc:
            log.warning("%s %s: storage unavailable: %s", request.method, _loggable(request), exc)
            response = json_error(503, UNAVAILABLE)
        except ConflictError as exc:  # a concurrent writer won a race; the retry will agree
            log.info(
                "%s %s: conflict, asking to retry: %s", request.method, _loggable(request), exc
            )
            response = json_error(503, UNAVAILABLE)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, _loggable(request))
            response = json_error(503, UNAVAILABLE)
        if metrics is not None and (request.path.startswith("/hooks/") or is_events_path):
            source = request.match_info.get("source", "events" if is_events_path else None)
            metrics.webhook_request(
                source if source in _SOURCES else "unknown",
                response.status,
                time.perf_counter() - began,
            )
        return response

    return middleware


def _loggable(request: web.Request) -> str:
    """The request's path with its webhook token masked: logs must not hold secrets."""
    token = request.match_info.get("token")
    return request.path.replace(token, "…") if token else request.path

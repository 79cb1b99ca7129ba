"""`/healthz` (the process answers) and `/readyz` (its dependencies answer)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.adapters.http.errors import RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when ready, else a short reason why not."""

CHECKS_KEY = web.AppKey("readiness_checks", dict[str, ReadinessCheck])


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop runs and answers HTTP."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: every registered dependency check passes; 503 names those that do not."""
    failures = {}
    for name, check in request.app[CHECKS_KEY].items():
        try:
            reason = await check()
        except Exception as exc:  # a failing check is an answer, never a 500
            log.warning("readiness check %s raised", name, exc_info=True)
            reason = f"{type(exc).__name__}"
        if reason is not None:
            failures[name] = reason
    if failures:
        return web.json_response(
            {"status": "unavailable", "failing": failures},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return web.json_response({"status": "ok"})


def add_health_routes(app: web.Application, checks: dict[str, ReadinessCheck]) -> None:
    """Mount the health endpoints with the given readiness checks."""
    app[CHECKS_KEY] = checks
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)

"""The HTTP application: health, webhooks and metrics, with the webhook writer's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from bot.adapters.http.auth import CACHE_SECONDS, WebhookAuthenticator
from bot.adapters.http.errors import error_middleware
from bot.adapters.http.health import ReadinessCheck, add_health_routes
from bot.adapters.http.ingest import CommitListener, IngestWriter
from bot.adapters.http.ratelimit import TokenBucketLimiter
from bot.adapters.http.webhooks import MAX_BODY, WebhookRoutes, add_webhook_routes
from bot.adapters.metrics import Metrics, add_metrics_route
from bot.core.clock import SystemClock
from bot.core.ports import Clock, UnitOfWorkFactory
from bot.core.services import Services

WRITER_KEY = web.AppKey("ingest_writer", IngestWriter)


def build_web_app(
    *,
    services: Services,
    uow_factory: UnitOfWorkFactory,
    metrics: Metrics,
    readiness_checks: Mapping[str, ReadinessCheck],
    clock: Clock | None = None,
    on_commit: CommitListener | None = None,
    rate_limiter: TokenBucketLimiter | None = None,
    auth_cache_seconds: float = CACHE_SECONDS,
    writer: IngestWriter | None = None,
    accept_webhooks: bool = True,
) -> web.Application:
    """`/healthz`, `/readyz`, `/hooks/…` and `/metrics`; the writer runs while the app does.

    `on_commit` is called after every webhook commit (e.g. to wake the Discord relay);
    `readiness_checks` gain an "ingest" check for the writer. Without `accept_webhooks`
    (a `--role bot` process, which no load balancer sends webhooks to) only health and
    metrics are served.
    """
    app = web.Application(client_max_size=MAX_BODY, middlewares=[error_middleware(metrics)])
    if not accept_webhooks:
        add_health_routes(app, readiness_checks)
        add_metrics_route(app, metrics)
        return app
    writer = writer or IngestWriter(
        uow_factory, clock or SystemClock(), metrics=metrics, on_commit=on_commit
    )
    app[WRITER_KEY] = writer
    add_health_routes(app, {**readiness_checks, "ingest": writer.problem})
    add_webhook_routes(
        app,
        WebhookRoutes(
            authenticator=WebhookAuthenticator(services.webhooks, ttl=auth_cache_seconds),
            limiter=rate_limiter or TokenBucketLimiter(),
            writer=writer,
        ),
    )
    add_metrics_route(app, metrics)
    app.cleanup_ctx.append(_run_writer)
    return app


async def _run_writer(app: web.Application) -> AsyncIterator[None]:
    """Start the writer with the app; on shutdown write everything queued, then stop."""
    writer = app[WRITER_KEY]
    await writer.start()
    yield
    await writer.stop()

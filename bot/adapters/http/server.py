"""The HTTP application: health, webhooks and metrics, with the webhook writer's lifetime."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from bot.adapters.http.ack import add_ack_routes
from bot.adapters.http.auth import CACHE_SECONDS, WebhookAuthenticator
from bot.adapters.http.bodies import MAX_BODY
from bot.adapters.http.errors import error_middleware
from bot.adapters.http.health import ReadinessCheck, add_health_routes
from bot.adapters.http.ingest import CommitListener, IngestWriter, StorageGuard
from bot.adapters.http.ratelimit import TokenBucketLimiter
from bot.adapters.http.serving import HANDLER_ARGS, bounded_keep_alive
from bot.adapters.http.statuspage.serve import StatusPageCache, add_status_routes
from bot.adapters.http.webhooks import ROUTES_KEY, WebhookRoutes, add_webhook_routes
from bot.adapters.metrics import Metrics, add_metrics_route
from bot.core.clock import SystemClock
from bot.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bot.core.services import Services, WebhookService

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
    read_uow_factory: UnitOfWorkFactory | None = None,
    public_url: str = "http://localhost:8080",
    storage_guard: StorageGuard | None = None,
) -> web.Application:
    """`/healthz`, `/readyz`, `/hooks/…`, `/ack/…` and `/metrics`; the writer runs while the
    app does.

    `on_commit` is called after every webhook commit (e.g. to wake the Discord relay);
    `readiness_checks` gain an "ingest" check for the writer. Without `accept_webhooks`
    (a `--role bot` process, which no load balancer sends webhooks to) only health and
    metrics are served. Token lookups run in `read_uow_factory`'s units of work (by default
    the read-only twins of `uow_factory`'s, see `reading_units`), and so are the status
    pages' reads (`/status/{slug}…`, served wherever webhooks are; links use `public_url`).
    `storage_guard` is asked
    before each webhook commit whether storage is usable (e.g. the SQLite file is still
    the one opened); a reason answers the batch 503.
    """
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[bounded_keep_alive, error_middleware(metrics)],
        handler_args=HANDLER_ARGS,
    )
    if not accept_webhooks:
        add_health_routes(app, readiness_checks)
        add_metrics_route(app, metrics)
        return app
    clock = clock or SystemClock()
    writer = writer or IngestWriter(
        uow_factory, clock, metrics=metrics, on_commit=on_commit, guard=storage_guard
    )
    app[WRITER_KEY] = writer
    add_health_routes(app, {**readiness_checks, "ingest": writer.problem})
    add_webhook_routes(
        app,
        WebhookRoutes(
            authenticator=WebhookAuthenticator(
                WebhookService(read_uow_factory or reading_units(uow_factory), clock),
                ttl=auth_cache_seconds,
            ),
            limiter=rate_limiter or TokenBucketLimiter(),
            writer=writer,
            heartbeats=services.heartbeats,
        ),
    )
    add_ack_routes(app, services.acks)  # pagers' acknowledge links, wherever webhooks land
    add_status_routes(
        app, StatusPageCache(read_uow_factory or reading_units(uow_factory), clock, public_url)
    )
    add_metrics_route(app, metrics)
    app.cleanup_ctx.append(_run_writer)
    return app


def reading_units(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Units of work for lookups: the read-only twin (`reading()`) of each unit of work (on
    SQLite it does not queue for the write lock behind the webhook writer)."""

    def factory() -> UnitOfWork:
        return uow_factory().reading()

    return factory


async def _run_writer(app: web.Application) -> AsyncIterator[None]:
    """Start the writer with the app; on shutdown write everything queued, then stop."""
    writer = app[WRITER_KEY]
    await writer.start()
    _freeze_startup_objects()
    yield
    await writer.stop()
    await app[ROUTES_KEY].authenticator.close()


_frozen = False


def _freeze_startup_objects() -> None:
    """Once per process, when webhooks start being served: take everything built so far
    (modules, settings, engine, services, caches) out of the cyclic garbage collector's
    scans with `gc.freeze()`, after collecting what is already garbage.

    Those objects live as long as the process anyway. Left in, every full collection during
    an alert storm walks all of discord.py, SQLAlchemy and alembic's objects: stalls of tens
    of milliseconds that were most of the webhook p99 (bench/RESULTS.md).
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()

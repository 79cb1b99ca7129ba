"""The webhook server on a real database: the app, a test client, webhooks and stored alerts.

Builds on tests/integration/conftest.py: `uow_factory` is a migrated SQLite file (and the
PostgreSQL database when OPSROOM_TEST_DATABASE_URL is set), `clock` a hand-moved clock.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.adapters.db import SqlUnitOfWork
from bot.adapters.db.repositories.alerts import alert_from_row
from bot.adapters.db.tables import alerts
from bot.adapters.http.ratelimit import TokenBucketLimiter
from bot.adapters.http.server import build_web_app
from bot.adapters.metrics import Metrics
from bot.core.alerts import Alert, AlertSource
from bot.core.services import Services
from bot.core.webhooks import Webhook
from tests.integration.conftest import FakeClock
from tests.paths import fixture_bytes

GUILD = 1_180_000_000_000_000_001

UowFactory = Callable[[], SqlUnitOfWork]


def fixture_json(name: str) -> Any:
    """A JSON fixture, parsed."""
    return json.loads(fixture_bytes(name))


@dataclass
class Hooks:
    """One test's server: its client, services, metrics and database access."""

    client: TestClient
    app: web.Application
    services: Services
    metrics: Metrics
    uow_factory: UowFactory
    clock: FakeClock

    async def webhook(
        self, source: AlertSource, *, secret: str | None = None, guild_id: int = GUILD
    ) -> tuple[Webhook, str]:
        """A new webhook of `source` (with a signing secret if given) and its token."""
        heartbeat = source is AlertSource.HEARTBEAT
        beat = (timedelta(minutes=5), timedelta(minutes=1)) if heartbeat else None
        webhook, token = await self.services.webhooks.create(
            guild_id, source, None, None, heartbeat=beat
        )
        if secret is not None:
            webhook.signing_secret = secret
            async with self.uow_factory() as uow:
                await uow.webhooks.save(webhook)
                await uow.commit()
        return webhook, token

    async def alerts(self) -> list[Alert]:
        """Every stored alert, in insertion order."""
        async with self.uow_factory() as uow:
            rows = await uow.session.execute(select(alerts).order_by(alerts.c.id))
            return [alert_from_row(row) for row in rows.mappings()]

    async def pending_events(self) -> int:
        """Outbox events waiting for the relay."""
        async with self.uow_factory() as uow:
            return len(await uow.outbox.pending(limit=100_000))


HooksFactory = Callable[..., Awaitable[Hooks]]


@pytest.fixture
async def make_hooks(uow_factory: UowFactory, clock: FakeClock) -> AsyncIterator[HooksFactory]:
    """Start webhook servers on the test database; keyword arguments go to build_web_app."""
    clients: list[TestClient] = []

    async def start(**options: Any) -> Hooks:
        services = options.pop("services", None) or Services.build(uow_factory, clock)
        metrics = Metrics()
        app = build_web_app(
            services=services,
            uow_factory=options.pop("writer_uow_factory", uow_factory),
            metrics=metrics,
            readiness_checks=options.pop("readiness_checks", {}),
            clock=clock,
            **options,
        )
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return Hooks(client, app, services, metrics, uow_factory, clock)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def hooks(make_hooks: HooksFactory) -> Hooks:
    """A webhook server with a limiter loose enough never to get in the way."""
    return await make_hooks(rate_limiter=TokenBucketLimiter(rate=1e6, burst=1_000_000))

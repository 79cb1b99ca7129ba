"""The assembled web app: health, metrics, JSON errors, the writer's lifetime, commit hook."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.db import SqlUnitOfWork
from bot.adapters.http.server import WRITER_KEY, build_web_app
from bot.adapters.metrics import Metrics
from bot.core.alerts import AlertSource, Outcome
from bot.core.services import Ingested, Services
from tests.integration.conftest import FakeClock
from tests.integration.databases import Database
from tests.integration.http.conftest import (
    Hooks,
    HooksFactory,
    UowFactory,
    fixture_bytes,
)

FIRING = "alertmanager/alertmanager-0.25-firing.json"


async def test_health_endpoints_include_the_writer(hooks: Hooks) -> None:
    """/healthz answers; /readyz is ready while the writer runs."""
    assert (await hooks.client.get("/healthz")).status == 200
    ready = await hooks.client.get("/readyz")
    assert (ready.status, await ready.json()) == (200, {"status": "ok"})


async def test_readyz_reports_a_failing_check(make_hooks: HooksFactory) -> None:
    """A failing readiness check passed in by the caller makes /readyz 503, naming it."""

    async def gateway() -> str | None:
        return "not connected"

    hooks = await make_hooks(readiness_checks={"gateway": gateway})
    response = await hooks.client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["failing"] == {"gateway": "not connected"}


async def test_metrics_count_requests_and_alerts(hooks: Hooks) -> None:
    """/metrics exposes alerts by source and outcome and webhook answers by status."""
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    await hooks.client.post(f"/hooks/alertmanager/{token}", data=fixture_bytes(FIRING))
    await hooks.client.post("/hooks/alertmanager/wrong", data=b"{}")
    await hooks.client.post("/hooks/bogus/wrong", data=b"{}")
    hooks.metrics.set_relay_queue_depth(7)
    response = await hooks.client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert 'opsroom_alerts_received_total{outcome="new",source="alertmanager"} 2.0' in text
    assert 'opsroom_webhook_requests_total{source="alertmanager",status="202"} 1.0' in text
    assert 'opsroom_webhook_requests_total{source="alertmanager",status="404"} 1.0' in text
    assert 'opsroom_webhook_requests_total{source="unknown",status="404"} 1.0' in text
    assert "opsroom_relay_queue_depth 7.0" in text


def test_metrics_objects_do_not_share_a_registry() -> None:
    """Each Metrics has its own registry, so one test's counts never leak into another's."""
    first, second = Metrics(), Metrics()
    first.discord_message_sent(3)
    first.discord_429()
    first.escalation("oncall")
    assert "opsroom_discord_messages_sent_total 3.0" in first.render().decode()
    assert "opsroom_discord_messages_sent_total 0.0" in second.render().decode()


async def test_unknown_paths_and_methods_answer_json(hooks: Hooks) -> None:
    """aiohttp's own 404/405 come back in the same JSON shape as ours."""
    missing = await hooks.client.get("/nothing-here")
    wrong = await hooks.client.post("/healthz")
    assert (missing.status, await missing.json()) == (404, {"error": "not found"})
    assert (wrong.status, await wrong.json()) == (405, {"error": "method not allowed"})


async def test_writer_runs_only_while_the_app_does(
    uow_factory: UowFactory, clock: FakeClock
) -> None:
    """The writer starts with the app and is stopped (drained) when the app shuts down."""
    app = build_web_app(
        services=Services.build(uow_factory, clock),
        uow_factory=uow_factory,
        metrics=Metrics(),
        readiness_checks={},
        clock=clock,
    )
    writer = app[WRITER_KEY]
    assert not writer.running
    async with TestClient(TestServer(app)) as client:
        assert writer.running
        assert (await client.get("/readyz")).status == 200
    assert not writer.running


async def test_commit_listener_hears_of_stored_alerts(
    uow_factory: UowFactory, clock: FakeClock
) -> None:
    """on_commit is called after the commit, with what was stored (the relay's wake-up call)."""
    heard: list[Ingested] = []
    services = Services.build(uow_factory, clock)
    app = build_web_app(
        services=services,
        uow_factory=uow_factory,
        metrics=Metrics(),
        readiness_checks={},
        clock=clock,
        on_commit=heard.extend,
    )
    _, token = await services.webhooks.create(1, AlertSource.ALERTMANAGER, None, None)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(f"/hooks/alertmanager/{token}", data=fixture_bytes(FIRING))
        assert response.status == 202
    assert [i.outcome for i in heard] == [Outcome.NEW, Outcome.NEW]
    assert all(i.alert is not None and i.alert.id is not None for i in heard)


async def test_token_lookups_use_read_only_units_of_work(
    database: Database, clock: FakeClock
) -> None:
    """The app looks tokens up in read-only twins of the writer's units of work (they do not
    queue behind the writer for SQLite's lock); a factory without twins is used as it is."""
    entered: list[bool] = []

    class Recording(SqlUnitOfWork):
        async def __aenter__(self) -> Recording:
            entered.append(self.read_only)
            return await super().__aenter__()

        def reading(self) -> Recording:
            return Recording(database.sessions, clock=clock, read_only=True)

    services = Services.build(lambda: SqlUnitOfWork(database.sessions, clock=clock), clock)
    app = build_web_app(
        services=services,
        uow_factory=lambda: Recording(database.sessions, clock=clock),
        metrics=Metrics(),
        readiness_checks={},
        clock=clock,
    )
    _, token = await services.webhooks.create(1, AlertSource.ALERTMANAGER, None, None)
    async with TestClient(TestServer(app)) as client:
        for _ in range(2):
            response = await client.post(f"/hooks/alertmanager/{token}", data=fixture_bytes(FIRING))
            assert response.status == 202
    assert entered == [True, False, False]  # one read-only lookup (then cached), two batches

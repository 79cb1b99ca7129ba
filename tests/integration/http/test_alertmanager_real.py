"""A real Prometheus Alertmanager (Debian's package) delivering to the webhook server.

The test starts alertmanager on loopback with a one-second group wait and interval and a
webhook receiver pointing at the test server, fires two alerts through its v2 API, resolves
them one at a time, and checks what was stored: each alert once, firing, then resolved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.http.parsers.alertmanager import fingerprint
from bot.adapters.http.parsers.common import parse_time
from bot.core.alerts import Alert, AlertSource, AlertState
from tests.alertmanager import alert_body, post_alerts, running_alertmanager
from tests.integration.http.conftest import Hooks

WAIT_SECONDS = 20.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it holds, failing after WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {WAIT_SECONDS:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def by_instance(stored: list[Alert]) -> dict[str, Alert]:
    """Stored alerts keyed by their instance label."""
    return {alert.details.get("instance", ""): alert for alert in stored}


async def test_real_alertmanager_firing_then_resolved(hooks: Hooks, tmp_path: Path) -> None:
    """Two alerts fire, one resolves (partly resolved group), then the other: stored once each."""
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    url = str(hooks.client.make_url(f"/hooks/alertmanager/{token}"))
    started = datetime.now(UTC).replace(microsecond=123456) - timedelta(seconds=5)
    labels = {
        name: {"alertname": "OpsroomRealTest", "instance": name, "severity": "critical"}
        for name in ("a", "b")
    }

    def alert(name: str, *, ended: datetime | None = None) -> dict:
        return alert_body(labels[name], {"summary": f"{name} is on fire"}, started, ends=ended)

    async with running_alertmanager(tmp_path, url) as base:
        await post_alerts(base, [alert("a"), alert("b")])

        async def firing() -> bool:
            stored = by_instance(await hooks.alerts())
            return len(stored) == 2 and all(a.is_open for a in stored.values())

        await eventually(firing, "both alerts to arrive firing")
        await post_alerts(base, [alert("a", ended=datetime.now(UTC) - timedelta(seconds=1))])

        async def a_resolved() -> bool:
            stored = by_instance(await hooks.alerts())
            return stored["a"].state is AlertState.RESOLVED

        await eventually(a_resolved, "the partly resolved group")
        assert by_instance(await hooks.alerts())["b"].is_open
        await post_alerts(base, [alert("b", ended=datetime.now(UTC) - timedelta(seconds=1))])

        async def all_resolved() -> bool:
            return all(a.state is AlertState.RESOLVED for a in await hooks.alerts())

        await eventually(all_resolved, "the resolved group")

    stored = await hooks.alerts()
    assert len(stored) == 2  # every delivery of the same episode landed on the same alert
    episode = parse_time(alert("a")["startsAt"], "startsAt")[1]
    for name, found in by_instance(stored).items():
        assert found.stream_key == fingerprint(labels[name])  # our FNV-1a agrees with theirs
        assert found.episode_key == episode
        assert found.title == f"{name} is on fire"
        assert found.resolved_at is not None and found.resolved_at >= found.started_at

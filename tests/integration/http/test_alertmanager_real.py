"""A real Prometheus Alertmanager (Debian's package) delivering to the webhook server.

The test starts alertmanager on loopback with a one-second group wait and interval and a
webhook receiver pointing at the test server, fires two alerts through its v2 API, resolves
them one at a time, and checks what was stored: each alert once, firing, then resolved.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.http.parsers.alertmanager import fingerprint
from bot.adapters.http.parsers.common import parse_time
from bot.core.alerts import Alert, AlertSource, AlertState
from tests.integration.http.conftest import Hooks

WAIT_SECONDS = 20.0
BINARIES = ("prometheus-alertmanager", "alertmanager")
CONFIG = """\
route:
  receiver: opsroom
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opsroom
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


def alertmanager_binary() -> str:
    """The alertmanager executable, or skip saying how to install it."""
    for name in BINARIES:
        if path := shutil.which(name):
            return path
    pytest.skip("integration: prometheus-alertmanager is not installed (apt-get install it)")


def free_port() -> int:
    """A loopback port nobody is listening on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it holds, failing after WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {WAIT_SECONDS:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running_alertmanager(tmp_path: Path, webhook_url: str) -> AsyncIterator[str]:
    """Start alertmanager (no clustering, temp storage) and yield its API base; always kill it."""
    binary = alertmanager_binary()
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=webhook_url))
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                if process.returncode is not None:
                    pytest.fail(
                        f"alertmanager exited: {(tmp_path / 'alertmanager.log').read_text()}"
                    )
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{base}/-/ready") as response:
                        return response.status == 200
                return False

            await eventually(ready, "alertmanager to be ready")
        yield base
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        log.close()


async def post_alerts(base: str, alerts: list[dict]) -> None:
    """POST /api/v2/alerts, as Prometheus does."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/api/v2/alerts", json=alerts) as response,
    ):
        assert response.status == 200, await response.text()


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
        body = {
            "labels": labels[name],
            "annotations": {"summary": f"{name} is on fire"},
            "startsAt": started.isoformat().replace("+00:00", "Z"),
            "generatorURL": "http://prometheus.example/graph",
        }
        if ended is not None:
            body["endsAt"] = ended.isoformat().replace("+00:00", "Z")
        return body

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

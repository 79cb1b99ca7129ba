"""A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) on loopback, for tests.

`running_alertmanager(workdir, webhook_url)` writes a config with one webhook receiver
(`send_resolved`) grouping by alertname with short timings, starts the binary without
clustering and with its own storage under `workdir`, waits for `/-/ready`, yields its base
URL and always kills it. `post_alerts` fires alerts through its v2 API as Prometheus does;
`alert_body` builds one; `webhook_notifications` reads what Alertmanager says it delivered.
Its debug log (every flush and notification) is left in `workdir/alertmanager.log`.

A missing binary skips with an "integration:" reason (a failure in CI, see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

BINARIES = ("prometheus-alertmanager", "alertmanager")
READY_WITHIN = 20.0
CONFIG = """\
route:
  receiver: opsroom
  group_by: [alertname]
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: {repeat_interval}
receivers:
  - name: opsroom
    webhook_configs:
      - url: {url}
        send_resolved: true
"""
_SAMPLE = re.compile(r"^(alertmanager_notifications(?:_failed)?_total)\{([^}]*)\} (\S+)$", re.M)


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


def rfc3339(moment: datetime) -> str:
    """A time as Prometheus sends it: UTC with a `Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_body(
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    starts: datetime,
    *,
    ends: datetime | None = None,
    generator_url: str = "http://prometheus.example/graph",
) -> dict[str, Any]:
    """One alert for POST /api/v2/alerts; an `ends` in the past resolves it."""
    body: dict[str, Any] = {
        "labels": dict(labels),
        "annotations": dict(annotations),
        "startsAt": rfc3339(starts),
        "generatorURL": generator_url,
    }
    if ends is not None:
        body["endsAt"] = rfc3339(ends)
    return body


@contextlib.asynccontextmanager
async def running_alertmanager(
    workdir: Path,
    webhook_url: str,
    *,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    config_text: str | None = None,
) -> AsyncIterator[str]:
    """Start alertmanager delivering every group to `webhook_url` (or configured by
    `config_text`, a whole alertmanager.yml); yield its API base."""
    binary = alertmanager_binary()
    config = workdir / "alertmanager.yml"
    config.write_text(
        config_text
        or CONFIG.format(
            url=webhook_url,
            group_wait=group_wait,
            group_interval=group_interval,
            repeat_interval=repeat_interval,
        )
    )
    port = free_port()
    log_path = workdir / "alertmanager.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(process, base, log_path)
        yield base
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def wait_ready(
    process: asyncio.subprocess.Process, base: str, log_path: Path, name: str = "alertmanager"
) -> None:
    """Poll /-/ready until 200, failing with the process's log if it exits or takes too long
    (Prometheus and Alertmanager both serve /-/ready)."""
    deadline = asyncio.get_running_loop().time() + READY_WITHIN
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            if process.returncode is not None:
                pytest.fail(f"{name} exited {process.returncode}:\n{_log(log_path)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{base}/-/ready") as response:
                    if response.status == 200:
                        return
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"{name} not ready in {READY_WITHIN:.0f}s:\n{_log(log_path)}")
            await asyncio.sleep(0.1)


def _log(path: Path) -> str:
    """Alertmanager's output so far (debug level: every flush and notification)."""
    return path.read_text(errors="replace")


async def post_alerts(base: str, alerts: list[dict[str, Any]]) -> None:
    """POST /api/v2/alerts, as Prometheus does."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.post(f"{base}/api/v2/alerts", json=alerts) as response,
    ):
        assert response.status == 200, await response.text()


async def webhook_notifications(base: str) -> tuple[int, int]:
    """(sent, failed): webhook notifications Alertmanager attempted and saw fail, per its
    own /metrics."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(f"{base}/metrics") as response,
    ):
        text = await response.text()
    totals = {"alertmanager_notifications_total": 0, "alertmanager_notifications_failed_total": 0}
    for name, labels, value in _SAMPLE.findall(text):
        if 'integration="webhook"' in labels:
            totals[name] += int(float(value))
    return (
        totals["alertmanager_notifications_total"],
        totals["alertmanager_notifications_failed_total"],
    )

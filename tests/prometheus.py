"""A real Prometheus (Debian's `prometheus`) on loopback, evaluating one alerting rule.

`running_prometheus(workdir, scrape_target, alertmanager, rules)` scrapes one target and
evaluates `rules` every second, sends alerts to the given Alertmanager, waits for
`/-/ready`, yields its base URL and always kills it. Its log is `workdir/prometheus.log`.
A missing binary skips with an "integration:" reason (a failure in CI, see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.alertmanager import free_port, wait_ready

CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{alertmanager}"]
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ["{target}"]
"""


def prometheus_binary() -> str:
    """The prometheus executable, or skip saying how to install it."""
    if path := shutil.which("prometheus"):
        return path
    pytest.skip("integration: prometheus is not installed (apt-get install prometheus)")


@contextlib.asynccontextmanager
async def running_prometheus(
    workdir: Path, scrape_target: str, alertmanager: str, rules: str
) -> AsyncIterator[str]:
    """Start Prometheus scraping `scrape_target` (host:port) with the rule file text `rules`,
    alerting `alertmanager` (host:port); yield its base URL."""
    binary = prometheus_binary()
    rules_file = workdir / "rules.yml"
    rules_file.write_text(rules)
    config = workdir / "prometheus.yml"
    config.write_text(
        CONFIG.format(rules=rules_file, alertmanager=alertmanager, target=scrape_target)
    )
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=debug",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(process, base, log_path, "prometheus")
        yield base
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()

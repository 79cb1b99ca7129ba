"""What the bench scripts share: servers in subprocesses, statistics, Markdown tables, RSS."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
DEFAULT_PG_URL = "postgresql+asyncpg://opsroom:opsroom@127.0.0.1:5432/opsroom_bench"
GUILD = 1_180_000_000_000_000_001


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    """`median (min–max)` of repeated measurements, so the noise is visible."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def machine() -> dict[str, str]:
    """The facts RESULTS.md records about where a run happened."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def print_machine(out: TextIO = sys.stdout) -> None:
    facts = machine()
    print(
        f"machine: {facts['cpus']} CPUs ({facts['cpu']}), {facts['memory']}, "
        f"Python {facts['python']}, SQLite {facts['sqlite']}, load {facts['load']}, "
        f"{facts['date']}",
        file=out,
    )


class Server:
    """A server in a subprocess that prints one JSON line (at least {"port": …}) when ready."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None):
        self.argv = argv
        # stderr goes to a file: a pipe nobody reads would block a chatty server.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (lives as long as the server)
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        self.info: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Read the ready line (a JSON object on stdout)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                err = self.stderr()
                raise RuntimeError(f"server {self.argv} ended before it was ready:\n{err}")
            line = line.strip()
            if line.startswith("{"):
                self.info = json.loads(line)
                return self.info
        raise RuntimeError(f"server {self.argv} not ready within {timeout}s")

    def stop(self) -> str:
        """SIGTERM, wait, and give back what it wrote on stderr."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.stderr()

    def stderr(self) -> str:
        """Everything the server wrote on stderr so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


@contextlib.contextmanager
def servers() -> Iterator[list[Server]]:
    """Stop every server started in the block, whatever happens."""
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Poll a URL until it answers 200."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout}s")
        time.sleep(0.1)

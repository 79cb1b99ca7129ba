"""What hostile requests cost the webhook server, against a normal Alertmanager notification.

    python bench/hostile.py                 # 3 rounds of 10 requests of each kind
    python bench/hostile.py --rounds 5 --per-round 10

The server is the real command, `opsroom run --role web`, on a fresh SQLite file, in a
process of its own; its CPU time (utime + stime from /proc/<pid>/stat) and resident memory
(VmRSS) are read before and after each batch of requests. Each request goes on its own
connection, written by hand, and the next starts once the server has answered or closed it.

- `normal`: the Alertmanager 0.25 firing group (two alerts) — the baseline.
- `gzip-bomb`: 1 MiB of gzip that inflates to 1 GiB, to a valid token.
- `deflate-bomb`: 4 MiB of raw deflate that inflates to 4 GiB, to a wrong token.
- `events-600k`: a 600 KiB Events v2 body, chunked (no length to refuse it by), whose
  `routing_key` is unknown: the body must be read before the token is known.
- `encoding-br`: the normal body labelled `Content-Encoding: br`.

Kinds are interleaved round by round so that noise from other work spreads over all of
them; the table shows medians (CPU milliseconds per request) and the ratio to `normal`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import free_port, median, print_machine, rss_kib, table, wait_http  # noqa: E402
from memory import make_tokens  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """CPU time the process has used, user + system, in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def gzip_bomb(inflated: int) -> bytes:
    """gzip members of 64 MiB of zeros, repeated (a gzip body may hold several)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    one = packer.compress(bytes(64 * MiB)) + packer.flush()
    return one * (inflated // (64 * MiB))


def deflate_bomb(inflated: int) -> bytes:
    """Raw deflate: a fully flushed block of 1 MiB of zeros, repeated."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
    return block * (inflated // MiB) + packer.flush()


def request(path: str, body: bytes, headers: dict[str, str], *, chunked: bool = False) -> bytes:
    """One HTTP/1.1 request, bytes on the wire."""
    headers = {"Host": "bench", "Content-Type": "application/json", **headers}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    else:
        headers["Content-Length"] = str(len(body))
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


async def send(port: int, data: bytes) -> int | None:
    """Write a request, read the status line (None if the server closed first), then wait
    for the server to close or for the answer to end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def write() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(data)
            await writer.drain()

    sending = asyncio.create_task(write())
    status = None
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 60)
        status = int(line.split()[1])
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    await sending
    return status


def kinds(token: str) -> dict[str, bytes]:
    """The request of each kind."""
    normal = (REPO / "tests/fixtures/alertmanager/alertmanager-0.25-firing.json").read_bytes()
    path = f"/hooks/alertmanager/{token}"
    event = {
        "routing_key": "not-a-token",
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "s", "severity": "info", "x": "y" * 600 * 1024},
    }
    return {
        "normal": request(path, normal, {}),
        "gzip-bomb": request(path, gzip_bomb(1024 * MiB), {"Content-Encoding": "gzip"}),
        "deflate-bomb": request(
            "/hooks/alertmanager/wrong", deflate_bomb(4096 * MiB), {"Content-Encoding": "deflate"}
        ),
        "events-600k": request("/hooks/events", json.dumps(event).encode(), {}, chunked=True),
        "encoding-br": request(path, normal, {"Content-Encoding": "br"}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=10)
    args = parser.parse_args()
    opsroom = shutil.which("opsroom", path=str(Path(sys.executable).parent)) or "opsroom"
    workdir = Path(tempfile.mkdtemp(prefix="opsroom-bench-hostile-"))
    port = free_port()
    env = {
        **os.environ,
        "OPSROOM_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'opsroom.db'}",
        "OPSROOM_HTTP_PORT": str(port),
        "OPSROOM_LOG_LEVEL": "WARNING",
    }
    env.pop("OPSROOM_DISCORD_TOKEN", None)
    (token,) = make_tokens(env, 1, workdir)
    requests = kinds(token)
    log = (workdir / "web.log").open("w")
    web = subprocess.Popen(
        [opsroom, "run", "--role", "web"], env=env, cwd=workdir, stdout=log, stderr=log
    )
    costs: dict[str, list[float]] = {name: [] for name in requests}
    statuses: dict[str, set[int | None]] = {name: set() for name in requests}
    rss: dict[str, int] = {}
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
        idle_rss = rss_kib(web.pid)
        for _ in range(args.rounds):
            for name, data in requests.items():
                before = cpu_ms(web.pid)
                for _ in range(args.per_round):
                    statuses[name].add(asyncio.run(send(port, data)))
                    if name == "normal":
                        time.sleep(0.06)  # stay under the per-webhook rate limit
                costs[name].append((cpu_ms(web.pid) - before) / args.per_round)
                rss[name] = max(rss.get(name, 0), rss_kib(web.pid))
    finally:
        web.terminate()
        web.wait(timeout=30)
    base = median(costs["normal"]) or 1000 / TICK
    rows: list[list[object]] = []
    for name, values in costs.items():
        answered = ", ".join(str(s) if s else "closed" for s in sorted(statuses[name], key=str))
        rows.append(
            [
                name,
                f"{len(requests[name]) / 1024:,.0f} KiB",
                answered,
                f"{median(values):.1f}",
                f"{median(values) / base:.1f}×",
                f"{(rss[name] - idle_rss) / 1024:+.0f}",
            ]
        )
    print_machine()
    print(f"{args.rounds} rounds × {args.per_round} requests of each kind, one connection each\n")
    headers = ["kind", "sent", "answers", "CPU ms/request", "vs normal", "RSS MiB vs idle"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()

"""Requests meant to hurt: compression bombs, unknown encodings, idle and trickling
connections. Costs are asserted by counting the work done (bytes inflated, calls made,
connections kept), never by the clock."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.adapters.http import bodies, serving
from bot.adapters.http.bodies import MAX_BODY
from bot.core.alerts import AlertSource
from tests.integration.http import rawhttp
from tests.integration.http.conftest import Hooks, HooksFactory, fixture_bytes

JSON = {"Content-Type": "application/json"}
FIRING = "alertmanager/alertmanager-0.25-firing.json"
MiB = 1024 * 1024


def gzip_bomb(inflated: int) -> bytes:
    """gzip that inflates to `inflated` bytes of zeros: one 64 MiB member, repeated (a gzip
    body may hold several members), so building it costs one 64 MiB compression."""
    member = 64 * MiB
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    one = packer.compress(bytes(member)) + packer.flush()
    return one * (inflated // member)


def deflate_bomb(inflated: int) -> bytes:
    """Raw deflate that inflates to `inflated` bytes: a fully flushed 1 MiB block needs no
    earlier data, so the same compressed bytes can repeat."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
    return block * (inflated // MiB) + packer.flush()


@dataclass
class Work:
    """Inflation done by the server, as counted by a wrapped zlib."""

    calls: int = 0
    inflated: int = 0
    largest_call: int = 0


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    """Count every byte the webhook server inflates (it uses `zlib.decompressobj`)."""
    counted = Work()
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args: Any) -> None:
            self._engine = real(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._engine.decompress(data, max_length)
            counted.calls += 1
            counted.inflated += len(out)
            counted.largest_call = max(counted.largest_call, len(out))
            return out

        def flush(self, *args: Any) -> bytes:
            out = self._engine.flush(*args)
            counted.inflated += len(out)
            return out

        def __getattr__(self, name: str) -> Any:  # eof, unused_data, unconsumed_tail
            return getattr(self._engine, name)

    monkeypatch.setattr(bodies.zlib, "decompressobj", Counting)
    yield counted


async def bomb(
    hooks: Hooks, path: str, body: bytes, encoding: str, *, chunked: bool = False
) -> rawhttp.RawAnswer:
    """POST a compressed body by hand (its length declared, or chunked so that the server
    must read to know it); wait until the server has closed the connection."""
    reader, writer = await rawhttp.connect(hooks.client)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
    head = rawhttp.head("POST", path, {**JSON, "Content-Encoding": encoding, **framing})
    if chunked:
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    sender = asyncio.create_task(_write(writer, head + body))
    answer = await rawhttp.read_answer(reader)
    assert await rawhttp.closed_by_server(reader)  # no keep-alive after a refused body
    await sender
    writer.close()
    return answer


async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        writer.write(data)
        await writer.drain()
    except ConnectionError:  # the server stopped reading, as it should
        pass


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_bomb_costs_at_most_the_limit_and_nothing_after_the_answer(
    hooks: Hooks, work: Work, encoding: str
) -> None:
    """A body that inflates to 1 GiB: at most 16 MiB (+1 byte) is ever inflated, the answer
    is 413 (or, when the sender is still writing as the server closes, a reset), nothing is
    stored, and once the connection is closed no more inflation happens at all."""
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    body = gzip_bomb(1024 * MiB) if encoding == "gzip" else deflate_bomb(1024 * MiB)
    assert len(body) < 2 * MiB
    answer = await bomb(hooks, f"/hooks/alertmanager/{token}", body, encoding)
    assert answer.status in (413, None)
    assert 0 < work.inflated <= MAX_BODY + 1
    assert work.largest_call <= MAX_BODY + 1
    after = (work.calls, work.inflated)
    assert (await hooks.client.get("/healthz")).status == 200
    assert (work.calls, work.inflated) == after
    assert await hooks.alerts() == []


async def test_a_bomb_without_a_valid_token_is_never_inflated(hooks: Hooks, work: Work) -> None:
    """A 4 MiB deflate bomb to a wrong token: 404 from the headers alone, zero inflation."""
    body = deflate_bomb(4096 * MiB)
    answer = await bomb(hooks, "/hooks/alertmanager/not-a-token", body, "deflate")
    assert answer.status in (404, None)
    assert (work.calls, work.inflated) == (0, 0)


async def test_a_routing_key_bomb_stops_at_512_kib(hooks: Hooks, work: Work) -> None:
    """On `/hooks/events` the token is inside the body, so the body is read first: a bomb
    there inflates no more than PagerDuty's 512 KiB event cap before the 413."""
    declared = await bomb(hooks, "/v2/enqueue", gzip_bomb(1024 * MiB), "gzip")
    assert declared.status in (413, None)
    assert work.inflated == 0  # a declared 1 MB is refused before a byte is read
    answer = await bomb(hooks, "/v2/enqueue", gzip_bomb(1024 * MiB), "gzip", chunked=True)
    assert answer.status in (413, None)
    assert 0 < work.inflated <= bodies.MAX_EVENT_BODY + 1


async def test_compressed_bodies_within_the_limit_are_inflated(hooks: Hooks, work: Work) -> None:
    """gzip, zlib-wrapped deflate and raw deflate bodies all arrive as the JSON they carry."""
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    body = fixture_bytes(FIRING)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    encoded = {
        "gzip": zlib.compress(body, wbits=16 + zlib.MAX_WBITS),
        "deflate": zlib.compress(body),
        "x-gzip": zlib.compress(body, wbits=16 + zlib.MAX_WBITS),
    }
    for encoding, data in encoded.items():
        headers = {**JSON, "Content-Encoding": encoding}
        response = await hooks.client.post(
            f"/hooks/alertmanager/{token}", data=data, headers=headers
        )
        assert response.status == 202, encoding
    raw_body = raw.compress(body) + raw.flush()
    response = await hooks.client.post(
        f"/hooks/alertmanager/{token}",
        data=raw_body,
        headers={**JSON, "Content-Encoding": "deflate"},
    )
    assert response.status == 202
    assert [a.count for a in await hooks.alerts()] == [4, 4]
    assert work.inflated == 4 * len(body)


@pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "gzip, gzip", "identity;q=1"])
async def test_unknown_encodings_are_415_before_the_token(hooks: Hooks, encoding: str) -> None:
    """Any other Content-Encoding is 415, for a good token and a bad one alike."""
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    headers = {**JSON, "Content-Encoding": encoding}
    for path in (f"/hooks/alertmanager/{token}", "/hooks/alertmanager/wrong", "/v2/enqueue"):
        response = await hooks.client.post(path, data=fixture_bytes(FIRING), headers=headers)
        assert response.status == 415
        assert (await response.json())["error"].startswith("unsupported Content-Encoding")
        assert response.headers["Accept-Encoding"] == "gzip, deflate"
    assert await hooks.alerts() == []


@pytest.fixture
def quick_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built after this close idle connections after 0.2 s, not 15 s."""
    from bot.adapters.http import server

    monkeypatch.setattr(server, "HANDLER_ARGS", {**serving.HANDLER_ARGS, "keepalive_timeout": 0.2})


async def test_silent_and_trickling_connections_are_closed(
    quick_idle: None, make_hooks: HooksFactory
) -> None:
    """A connection that sends nothing, one stuck in its headers, and one idle after an
    answer are all closed by the server."""
    hooks = await make_hooks()
    silent, _ = await rawhttp.connect(hooks.client)
    trickle_reader, trickle = await rawhttp.connect(hooks.client)
    trickle.write(b"POST /hooks/alertmanager/x HTTP/1.1\r\nHost: opsroom.test\r\n")
    idle_reader, idle = await rawhttp.connect(hooks.client)
    idle.write(rawhttp.head("GET", "/healthz", {}))
    assert (await rawhttp.read_answer(idle_reader)).status == 200
    for reader in (silent, trickle_reader, idle_reader):
        assert await rawhttp.closed_by_server(reader)
    for writer in (trickle, idle):
        writer.close()


async def test_answers_close_their_connection_above_the_keep_alive_bound(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more connections open than the bound, an answer says `Connection: close`."""
    monkeypatch.setattr(serving, "MAX_KEPT_ALIVE", 2)
    held = [await rawhttp.connect(hooks.client) for _ in range(3)]
    reader, writer = held[-1]
    writer.write(rawhttp.head("GET", "/healthz", {}))
    answer = await rawhttp.read_answer(reader)
    assert answer.status == 200 and b"Connection: close" in answer.head
    assert await rawhttp.closed_by_server(reader)
    monkeypatch.setattr(serving, "MAX_KEPT_ALIVE", 100)
    reader, writer = held[0]
    writer.write(rawhttp.head("GET", "/healthz", {}))
    answer = await rawhttp.read_answer(reader)
    assert answer.status == 200 and b"Connection: close" not in answer.head
    for _, writer in held:
        writer.close()

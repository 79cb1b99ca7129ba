"""HTTP/1.1 by hand on a socket, for requests no polite client sends: trickled headers,
bodies the server stops reading, connections left idle."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiohttp.test_utils import TestClient

WAIT = 30.0  # generous bound on a condition; a passing test never waits for it


@dataclass
class RawAnswer:
    """What came back: the status (None when the server closed without one) and raw bytes."""

    status: int | None
    head: bytes


async def connect(client: TestClient) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain TCP connection to the test server."""
    server = client.server
    assert server.port is not None
    return await asyncio.open_connection(server.host, server.port)


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    """A request line and headers, ending the header block."""
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: opsroom.test",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_answer(reader: asyncio.StreamReader) -> RawAnswer:
    """The answer's status line and headers; a reset or a close before them is no status."""
    try:
        data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
        partial = exc.partial if isinstance(exc, asyncio.IncompleteReadError) else b""
        return RawAnswer(None, partial)
    return RawAnswer(int(data.split(b" ", 2)[1]), data)


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Wait until the server closes the connection (EOF or reset); False if it never does."""
    try:
        async with asyncio.timeout(WAIT):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


async def send(
    client: TestClient, request_head: bytes, body: bytes = b"", *, close: bool = True
) -> RawAnswer:
    """Send a request (ignoring a server that stops reading mid-body) and read its answer."""
    reader, writer = await connect(client)
    try:
        writer.write(request_head + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await read_answer(reader)
    finally:
        if close:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

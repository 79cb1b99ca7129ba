"""Request bodies read on a budget: the encoding checked first, bytes and inflation capped.

aiohttp's own decompression is switched off (see `serving.HANDLER_ARGS`): it inflates
without a bound and keeps inflating after the answer has gone. Here a compressed body is
inflated in slices, and the work stops the moment the inflated size passes the limit, so a
1 MB gzip body that would inflate to 1 GiB costs what 16 MiB of inflation costs, once.
"""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import web

from bot.adapters.http.errors import HttpError

MAX_BODY = 16 * 1024 * 1024
"""Largest accepted body, before and after inflation; a 500-alert Alertmanager group is
about 131 KB."""

MAX_EVENT_BODY = 512 * 1024
"""Largest Events v2 body: PagerDuty caps an event at 512 KiB, and an Events body may be
read before its token (`routing_key`) is known, so the cap is also what a stranger can cost."""

BODY_TIMEOUT_SECONDS = 30.0
"""A body must arrive within this long once its headers have: a sender trickling bytes
cannot hold a connection (and its buffers) open for ever."""

CHUNK = 64 * 1024
ENCODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})


def content_encoding(request: web.Request) -> str:
    """The body's one coding, or 415 for anything but identity, gzip and deflate."""
    given = request.headers.get("Content-Encoding", "").strip().lower()
    coding = given or "identity"
    if coding not in ENCODINGS:
        raise HttpError(
            415,
            f"unsupported Content-Encoding {given[:40]!r}: send identity, gzip or deflate",
            {"Accept-Encoding": "gzip, deflate"},
        )
    return coding


def _too_large(limit: int) -> HttpError:
    return HttpError(413, f"the body is larger than {_size(limit)}")


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


class _Inflater:
    """gzip (members in sequence) or deflate (zlib-wrapped or raw), inflated up to a limit."""

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding
        self._limit = limit
        self._engine: zlib._Decompress | None = None
        self.out = bytearray()

    def _start(self, data: bytes) -> zlib._Decompress:
        if self._coding == "deflate":
            # RFC 9110 says zlib-wrapped; some senders send raw deflate. Tell them apart
            # by the zlib header (compression method 8 and a checksum divisible by 31).
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> None:
        """Inflate `data`, raising 413 as soon as the output passes the limit."""
        while data:
            if self._engine is None:
                self._engine = self._start(data)
            room = self._limit + 1 - len(self.out)
            try:
                self.out += self._engine.decompress(data, room)
            except zlib.error:
                raise HttpError(400, f"the body is not valid {self._coding} data") from None
            if len(self.out) > self._limit:
                raise _too_large(self._limit)
            data = self._engine.unconsumed_tail
            if self._engine.eof:
                rest = self._engine.unused_data
                self._engine = None
                if self._coding == "deflate" and rest.strip(b"\0"):
                    raise HttpError(400, "the body has data after its deflate stream")
                data = rest if self._coding != "deflate" else b""

    def finish(self) -> bytes:
        """The inflated body; 400 when the compressed stream was cut short."""
        if self._engine is not None:
            try:
                self.out += self._engine.flush()
            except zlib.error:
                raise HttpError(400, f"the body is not valid {self._coding} data") from None
            if not self._engine.eof:
                raise HttpError(400, f"the {self._coding} body is cut short")
            if len(self.out) > self._limit:
                raise _too_large(self._limit)
        return bytes(self.out)


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The body, inflated, within `limit` bytes before and after inflation.

    Refuses a declared length above the limit before reading a byte; otherwise reads in
    chunks and stops (413) at the first byte past it, compressed or inflated.
    """
    if request.method in ("GET", "HEAD"):
        return b""
    coding = content_encoding(request)
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    inflater = _Inflater(coding, limit) if coding not in ("identity",) else None
    raw = bytearray()
    received = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            async for chunk in request.content.iter_chunked(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise _too_large(limit)
                if inflater is None:
                    raw += chunk
                else:
                    inflater.feed(chunk)
    except TimeoutError:
        raise HttpError(408, "the body did not arrive in time") from None
    except web.RequestPayloadError as exc:  # e.g. a broken chunked encoding
        detail = str(exc).split("message:", 1)[-1].strip()
        raise HttpError(400, f"the body cannot be read: {detail}") from None
    except ConnectionError:  # the sender went away mid-body; nobody will read the answer
        raise HttpError(400, "the body was cut short") from None
    return inflater.finish() if inflater is not None else bytes(raw)

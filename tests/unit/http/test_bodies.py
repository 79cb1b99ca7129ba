"""Bounded inflation: gzip members in sequence, both kinds of deflate, cut and trailing data."""

from __future__ import annotations

import zlib

import pytest

from bot.adapters.http.bodies import _Inflater
from bot.adapters.http.errors import HttpError


def gzip(data: bytes) -> bytes:
    return zlib.compress(data, wbits=16 + zlib.MAX_WBITS)


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def inflate(coding: str, body: bytes, limit: int = 1 << 20, chunk: int = 7) -> bytes:
    """Feed the body in small chunks, as it arrives from the network."""
    inflater = _Inflater(coding, limit)
    for start in range(0, len(body), chunk):
        inflater.feed(body[start : start + chunk])
    return inflater.finish()


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip(b"hello " * 50)),
        ("gzip", gzip(b"hello " * 25) + gzip(b"hello " * 25)),  # two members
        ("deflate", zlib.compress(b"hello " * 50)),
        ("deflate", raw_deflate(b"hello " * 50)),
    ],
)
def test_inflates_what_senders_send(coding: str, body: bytes) -> None:
    """Each form a sender uses comes back as the bytes it packed."""
    assert inflate(coding, body) == b"hello " * 50


@pytest.mark.parametrize(
    ("coding", "body", "reason"),
    [
        ("gzip", gzip(b"x" * 1000)[:-12], "the gzip body is cut short"),
        ("gzip", b"not gzip at all", "the body is not valid gzip data"),
        ("deflate", zlib.compress(b"x" * 100) + b"junk", "the body has data after its deflate"),
    ],
)
def test_broken_bodies_are_400(coding: str, body: bytes, reason: str) -> None:
    """A cut, corrupt or padded body is a 400 naming what is wrong."""
    with pytest.raises(HttpError) as raised:
        inflate(coding, body)
    assert raised.value.status == 400 and raised.value.message.startswith(reason)


def test_output_past_the_limit_stops_at_once() -> None:
    """Past the limit the inflater raises 413 with at most limit + 1 bytes produced."""
    inflater = _Inflater("gzip", 1000)
    with pytest.raises(HttpError) as raised:
        inflater.feed(gzip(bytes(10**6)))
    assert raised.value.status == 413
    assert len(inflater.out) == 1001

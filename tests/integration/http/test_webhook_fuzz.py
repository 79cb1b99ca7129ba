"""Hypothesis against every webhook route: hostile bytes, JSON, forms, headers and types.

The database is healthy throughout, so any 5xx would be a bug (the only deliberate 5xx is
the 503 for an unavailable database); every answer must be JSON, and the server must still
answer /healthz afterwards.
"""

from __future__ import annotations

import gzip
import json
import string
import zlib
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from yarl import URL

from bot.core.alerts import WEBHOOK_SOURCES
from tests.integration.http.conftest import Hooks, fixture_json

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER_TEXT = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
CONTENT_TYPES = st.one_of(
    st.just("application/json"),
    st.just("application/json"),
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=nope",
            "application/vnd.alert+json",
            "application/octet-stream",
            "multipart/form-data; boundary=zz",
            "text/plain",
            ";;;",
        ]
    ),
    HEADER_TEXT,
)
METHODS = st.sampled_from(["POST"] * 8 + ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
SOURCES = [source.value for source in WEBHOOK_SOURCES]


def samples() -> dict[str, Any]:
    """A valid payload per source, to mutate into nearly-valid ones."""
    firing = fixture_json("alertmanager/alertmanager-0.25-firing.json")
    grafana = {**firing, "version": "1", "orgId": 1, "state": "alerting", "title": "t"}
    trigger = {
        "event_action": "trigger",
        "dedup_key": "k",
        "payload": {
            "summary": "s",
            "source": "h",
            "severity": "error",
            "timestamp": "2026-01-01T00:00:00Z",
            "custom_details": {"a": [1, 2]},
        },
        "links": [{"href": "https://x.example", "text": "x"}],
    }
    return {
        "alertmanager": firing,
        "grafana": grafana,
        "events": trigger,
        "uptimerobot": fixture_json("uptimerobot/down.json"),
        "heartbeat": {"anything": "a ping's body is never read"},
        "uptimekuma": fixture_json("uptimekuma/down.json"),
    }


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    """`doc` with a few fields deleted, replaced by random JSON, or added (most stay valid)."""
    if isinstance(doc, dict):
        out = {}
        for name, value in doc.items():
            roll = draw(st.integers(0, 29))
            if roll == 0:
                continue
            out[name] = draw(JSON_VALUES) if roll == 1 else draw(mutated(value))
        if draw(st.integers(0, 9)) == 0:
            out[draw(st.text(max_size=10))] = draw(JSON_VALUES)
        return out
    if isinstance(doc, list):
        return [draw(mutated(item)) for item in doc if draw(st.integers(0, 19))]
    return doc if draw(st.integers(0, 29)) else draw(JSON_VALUES | st.text())


def bodies(sample: Any) -> st.SearchStrategy[bytes]:
    """Mostly mutations of the source's real payload; also random bytes, JSON and forms."""
    as_json = lambda value: json.dumps(value).encode()  # noqa: E731
    near_valid = mutated(sample).map(as_json)
    return st.one_of(
        near_valid,
        near_valid,
        near_valid,
        st.binary(max_size=300),
        JSON_VALUES.map(as_json),
        st.dictionaries(HEADER_TEXT, HEADER_TEXT, max_size=6).map(lambda d: urlencode(d).encode()),
        mutated(sample).map(lambda d: urlencode(d if isinstance(d, dict) else {}).encode()),
    )


async def tokens(hooks: Hooks) -> dict[str, str]:
    """A live token per source."""
    return {s.value: (await hooks.webhook(s, secret=None))[1] for s in WEBHOOK_SOURCES}


async def check(hooks: Hooks, method: str, url: URL, body: bytes, headers: dict[str, str]) -> None:
    """Send one request: no 5xx, a JSON answer, and the server still healthy.

    Each request has its own connection: the server closes one whose body it could not
    decode (after answering), which a reused connection would report as a disconnect.
    """
    headers = {**headers, "Connection": "close"}
    response = await hooks.client.request(method, url, data=body, headers=headers)
    event(f"status {response.status}")
    assert response.status < 500, (response.status, await response.text())
    if method != "HEAD":
        assert response.content_type == "application/json", await response.text()
        await response.json()
    assert (await hooks.client.get("/healthz")).status == 200


def request_headers(content_type: str | None, extra: dict[str, str]) -> dict[str, str]:
    """Headers with an optional Content-Type."""
    headers = dict(extra)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


EXTRA_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "X-Grafana-Alerting-Signature": HEADER_TEXT | st.just("sha256=00"),
        "X-Grafana-Alerting-Timestamp": HEADER_TEXT,
        "Authorization": HEADER_TEXT | st.just("Bearer x"),
        "X-Anything": HEADER_TEXT,
    },
)
ENCODINGS = st.sampled_from([None, "identity", "gzip", "deflate"])
"""Compressed bodies are compressed for real: a corrupt one is refused by aiohttp's protocol
layer itself (a plain-text 400 before any handler runs; see test_webhook_errors)."""


def encode(body: bytes, encoding: str | None, headers: dict[str, str]) -> bytes:
    """Compress the body as Content-Encoding says, setting the header."""
    if encoding is None:
        return body
    headers["Content-Encoding"] = encoding
    if encoding == "gzip":
        return gzip.compress(body)
    return zlib.compress(body) if encoding == "deflate" else body


@pytest.fixture
async def live(hooks: Hooks) -> tuple[Hooks, dict[str, str], dict[str, Any]]:
    """The server, a token per source and the sample payloads."""
    return hooks, await tokens(hooks), samples()


@SETTINGS
@given(
    data=st.data(),
    source=st.one_of(*[st.sampled_from(SOURCES)] * 4, st.text(min_size=1, max_size=12)),
    token_kind=st.sampled_from(["own", "own", "own", "other", "random"]),
    method=METHODS,
    content_type=CONTENT_TYPES,
    query=st.dictionaries(HEADER_TEXT, HEADER_TEXT, max_size=5),
    extra=EXTRA_HEADERS,
    encoding=ENCODINGS,
)
async def test_token_url_route_survives_anything(
    live, data, source, token_kind, method, content_type, query, extra, encoding
) -> None:
    """`/hooks/{source}/{token}` with any method, body, query, type and headers: never 5xx."""
    hooks, live_tokens, base = live
    if token_kind == "own" and source in live_tokens:
        token = live_tokens[source]
    elif token_kind == "other":
        token = data.draw(st.sampled_from(sorted(live_tokens.values())))
    else:
        token = data.draw(st.text(min_size=1, max_size=20))
    url = URL(f"/hooks/{quote(source, safe='')}/{quote(token, safe='')}", encoded=True)
    url = url.with_query(query)
    headers = request_headers(content_type, extra)
    sample = base.get(source) or data.draw(st.sampled_from(sorted(base.values(), key=str)))
    body = encode(data.draw(bodies(sample)), encoding, headers)
    await check(hooks, method, url, body, headers)


@SETTINGS
@given(
    data=st.data(),
    source=st.sampled_from(SOURCES),
    auth=st.sampled_from(["bearer", "bearer", "bearer", "none", "junk"]),
    method=METHODS,
    content_type=CONTENT_TYPES,
    extra=EXTRA_HEADERS,
    encoding=ENCODINGS,
)
async def test_bearer_route_survives_anything(
    live, data, source, auth, method, content_type, extra, encoding
) -> None:
    """`/hooks/{source}` with a good, missing or junk Authorization header: never 5xx."""
    hooks, live_tokens, base = live
    headers = request_headers(content_type, extra)
    headers.pop("Authorization", None)
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {live_tokens[source]}"
    elif auth == "junk":
        headers["Authorization"] = data.draw(HEADER_TEXT)
    body = encode(data.draw(bodies(base[source])), encoding, headers)
    await check(hooks, method, URL(f"/hooks/{source}"), body, headers)


@SETTINGS
@given(data=st.data(), content_type=CONTENT_TYPES, keyed=st.booleans())
async def test_events_routing_key_route_survives_anything(live, data, content_type, keyed) -> None:
    """`POST /hooks/events` with mutated events carrying a live or random routing_key."""
    hooks, live_tokens, base = live
    doc = data.draw(mutated(base["events"]))
    if keyed and isinstance(doc, dict):
        doc["routing_key"] = live_tokens["events"]
    body = json.dumps(doc).encode()
    await check(hooks, "POST", URL("/hooks/events"), body, request_headers(content_type, {}))

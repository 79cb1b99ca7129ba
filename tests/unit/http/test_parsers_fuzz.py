"""Hypothesis on the pure parsers: any input gives signals within limits, or a 4xx error."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.http.parsers import PARSERS, PayloadError, UnsupportedMediaTypeError
from bot.adapters.http.parsers.common import (
    MAX_DETAIL_KEY,
    MAX_DETAIL_VALUE,
    MAX_DETAILS,
    MAX_KEY,
    MAX_LINK,
    MAX_MONITOR,
    MAX_TITLE,
)
from bot.core.alerts import AlertSignal, AlertSource

FUZZ = settings(max_examples=300, deadline=None)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=25,
)
ALERT = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["firing", "resolved"]) | JSON_VALUES,
        "labels": st.dictionaries(st.text(), st.text() | JSON_VALUES, max_size=30),
        "annotations": st.dictionaries(st.text(), st.text(), max_size=30) | JSON_VALUES,
        "startsAt": st.sampled_from(["2026-11-21T09:28:07.106785656Z", "0001-01-01T00:00:00Z"])
        | st.text(),
        "endsAt": st.text() | JSON_VALUES,
        "fingerprint": st.text() | JSON_VALUES,
        "generatorURL": st.text(),
        "valueString": JSON_VALUES,
    },
)
ALERTMANAGER = st.fixed_dictionaries(
    {"alerts": st.lists(ALERT, max_size=5) | JSON_VALUES},
    optional={"truncatedAlerts": JSON_VALUES, "version": st.sampled_from(["4", "1"])},
)
EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "routing_key": st.text() | JSON_VALUES,
        "event_action": st.sampled_from(["trigger", "acknowledge", "resolve"]) | JSON_VALUES,
        "dedup_key": st.text() | JSON_VALUES,
        "payload": st.fixed_dictionaries(
            {},
            optional={
                "summary": st.text() | JSON_VALUES,
                "source": st.text() | JSON_VALUES,
                "severity": st.sampled_from(["critical", "error", "warning", "info"]) | JSON_VALUES,
                "timestamp": st.text() | JSON_VALUES,
                "custom_details": JSON_VALUES,
            },
        )
        | JSON_VALUES,
        "links": st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=3)) | JSON_VALUES,
        "client_url": st.text() | JSON_VALUES,
    },
)
UPTIMEROBOT = st.dictionaries(
    st.sampled_from(
        [
            "monitorID",
            "monitor_id",
            "monitorURL",
            "monitorFriendlyName",
            "alertType",
            "alert_type",
            "alertTypeFriendlyName",
            "alertDetails",
            "alertDuration",
            "alertDateTime",
            "sslExpiryDate",
            "*monitorID*",
        ]
    )
    | st.text(),
    st.sampled_from(["1", "2", "3", "*alertType*", "1670958060", "360"]) | st.text() | JSON_VALUES,
    max_size=12,
)
UPTIMEKUMA = st.fixed_dictionaries(
    {},
    optional={
        "msg": st.text() | JSON_VALUES,
        "heartbeat": st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from([0, 1, 2, 3, "0"]) | JSON_VALUES,
                "time": st.sampled_from(["2026-12-04 19:30:00.123"]) | st.text() | JSON_VALUES,
                "msg": st.text() | JSON_VALUES,
                "ping": JSON_VALUES,
                "monitorID": JSON_VALUES,
            },
        )
        | JSON_VALUES,
        "monitor": st.dictionaries(
            st.sampled_from(["id", "name", "url", "hostname", "port", "type"]) | st.text(),
            JSON_VALUES,
            max_size=8,
        )
        | JSON_VALUES,
    },
)
CONTENT_TYPES = (
    st.none()
    | st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "application/x+json",
        ]
    )
    | st.text(max_size=30)
)
DOCUMENTS = {
    AlertSource.ALERTMANAGER: ALERTMANAGER,
    AlertSource.GRAFANA: ALERTMANAGER,
    AlertSource.EVENTS: EVENTS,
    AlertSource.UPTIMEROBOT: UPTIMEROBOT,
    AlertSource.UPTIMEKUMA: UPTIMEKUMA,
}


def assert_within_limits(signals: list[AlertSignal]) -> None:
    """Every text is storable and fits the Discord limits the parsers promise."""
    for signal in signals:
        assert len(signal.title) <= MAX_TITLE and len(signal.monitor) <= MAX_MONITOR
        assert len(signal.stream_key) <= max(MAX_KEY, 7 + 64)
        assert len(signal.details) <= MAX_DETAILS
        texts = [signal.title, signal.monitor, signal.stream_key, signal.episode_key or ""]
        for name, value in signal.details.items():
            assert len(name) <= MAX_DETAIL_KEY and len(value) <= MAX_DETAIL_VALUE
            texts += [name, value]
        if signal.link is not None:
            assert signal.link.startswith(("http://", "https://")) and len(signal.link) <= MAX_LINK
        for text in texts:
            assert "\x00" not in text
            text.encode("utf-8")  # no lone surrogates: PostgreSQL and Discord take it


def run(source: AlertSource, content_type: str | None, body: bytes, query: dict[str, str]) -> None:
    """Parse; only our two error types may escape, and what parses is within limits."""
    try:
        signals = PARSERS[source](content_type, body, query)
    except (PayloadError, UnsupportedMediaTypeError):
        return
    assert_within_limits(signals)


@FUZZ
@given(
    source=st.sampled_from(list(PARSERS)),
    content_type=CONTENT_TYPES,
    body=st.binary(max_size=500),
    query=st.dictionaries(st.text(), st.text(), max_size=5),
)
def test_random_bytes(
    source: AlertSource, content_type: str | None, body: bytes, query: dict
) -> None:
    """Arbitrary bytes under any content type never crash a parser."""
    run(source, content_type, body, query)


@FUZZ
@given(data=st.data(), source=st.sampled_from(list(PARSERS)))
def test_shaped_json(data: st.DataObject, source: AlertSource) -> None:
    """Documents shaped like each source's, with random values anywhere, never crash it."""
    document: Any = data.draw(DOCUMENTS[source])
    run(source, "application/json", json.dumps(document).encode(), {})


@FUZZ
@given(fields=UPTIMEROBOT)
def test_uptimerobot_query_and_form(fields: dict[str, Any]) -> None:
    """UptimeRobot's GET query and POST form forms with random variables never crash it."""
    texts = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    run(AlertSource.UPTIMEROBOT, None, b"", texts)
    run(AlertSource.UPTIMEROBOT, "application/x-www-form-urlencoded", urlencode(texts).encode(), {})

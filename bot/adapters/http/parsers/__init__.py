"""Payload parsers, one module per source: pure functions from a request's parts to signals.

Each takes (Content-Type header or None, raw body bytes, query mapping) and returns the
`AlertSignal`s the request carries, or raises `PayloadError` (400, naming the field) or
`UnsupportedMediaTypeError` (415). Unknown fields are ignored everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.adapters.http.parsers import alertmanager, events, uptimekuma, uptimerobot
from bot.adapters.http.parsers.common import PayloadError, UnsupportedMediaTypeError
from bot.core.alerts import AlertSignal, AlertSource

Parser = Callable[[str | None, bytes, Mapping[str, str]], list[AlertSignal]]

PARSERS: dict[AlertSource, Parser] = {
    AlertSource.UPTIMEROBOT: uptimerobot.parse,
    AlertSource.ALERTMANAGER: alertmanager.parse,
    AlertSource.GRAFANA: alertmanager.parse_grafana,
    AlertSource.EVENTS: events.parse,
    AlertSource.UPTIMEKUMA: uptimekuma.parse,
}

__all__ = ["PARSERS", "Parser", "PayloadError", "UnsupportedMediaTypeError"]

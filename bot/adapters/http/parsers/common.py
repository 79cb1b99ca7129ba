"""What every payload parser shares: its errors, Discord-safe text, body decoding, times.

Parsers are pure functions of the request's parts, so they can be tested and fuzzed without
a server. Text that ends up in Discord is capped here, once, with the limits below.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

MAX_TITLE = 256  # Discord embed title
MAX_MONITOR = 256  # shown as an embed field name/author
MAX_DETAIL_KEY = 256  # embed field name
MAX_DETAIL_VALUE = 1024  # embed field value
MAX_DETAILS = 20  # embeds hold 25 fields; leave room for the relay's own
MAX_LINK = 2048  # a URL Discord still accepts as an embed url
MAX_SEVERITY = 64
MAX_KEY = 255  # stream keys live in unique indexes; PostgreSQL caps index rows
MAX_FORM_FIELDS = 1000

JSON_TYPES = frozenset({"application/json", "text/json"})
FORM_TYPE = "application/x-www-form-urlencoded"
UNSPECIFIED = "application/octet-stream"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?"
    r"\s*([Zz]|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)


class PayloadError(Exception):
    """The body cannot be understood; the message names the field (answered as 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedMediaTypeError(Exception):
    """The Content-Type is not one this source sends (answered as 415)."""

    def __init__(self, content_type: str) -> None:
        super().__init__(f"unsupported content type {content_type!r}")
        self.content_type = content_type


def clean(text: str) -> str:
    """Text safe to store anywhere: no NUL or control characters, no lone surrogates."""
    if text.isascii() and text.isprintable():  # the usual case: nothing to remove
        return text
    text = _CONTROL.sub("", text)
    return text.encode("utf-8", "replace").decode("utf-8")


def cap(text: str, limit: int) -> str:
    """Clean and shorten to `limit` characters, marking the cut with an ellipsis."""
    text = clean(text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def as_text(value: Any) -> str:
    """Any JSON value as one line of text: strings as they are, the rest as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


_STATE_PREFIX = re.compile(
    r"\s*(?:"
    r"\[(?:FIRING|RESOLVED)(?:\s*:\s*\d+)?\]"  # Alertmanager's and Grafana's subjects
    r"|\[Uptime Kuma (?:Monitor [^\]]{0,20}|Alert)\]"  # Uptime Kuma's PagerDuty provider
    r"|\[?(?:🔴|✅)\s*(?:Down|Up)\]?"  # Uptime Kuma's own messages
    r"|(?:TRIGGERED|RESOLVED|FIRING|Problem|Resolved(?: in [^:]{1,40})?)\s*:"  # Gatus, Zabbix
    r")\s*",
    re.IGNORECASE,
)


def plain_title(text: str) -> str:
    """A title without the state words a sender put in front of it ("[FIRING:1] ",
    "[Uptime Kuma Monitor 🔴 Down] ", "RESOLVED: " …): the card shows the state itself, and a
    resolved card must not say "FIRING". A title that is nothing but a prefix is kept."""
    rest = text
    while (match := _STATE_PREFIX.match(rest)) is not None and match.end() > 0:
        rest = rest[match.end() :]
    return rest if rest.strip() else text


def key(text: str) -> str:
    """A stream key of bounded length: long ones are replaced by their SHA-256."""
    text = clean(text)
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def web_link(*candidates: Any) -> str | None:
    """The first candidate that is an http(s) URL Discord will accept."""
    for candidate in candidates:
        if isinstance(candidate, str):
            url = clean(candidate).strip()
            web = url.lower().startswith(("http://", "https://"))
            if web and len(url) <= MAX_LINK and len(url.split()) == 1:  # no whitespace
                return url
    return None


def details(pairs: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """Key/value details capped for an embed: bounded count, key and value lengths."""
    result: dict[str, str] = {}
    for name, value in pairs:
        name_text, value_text = cap(as_text(name), MAX_DETAIL_KEY), as_text(value)
        if not name_text or not value_text.strip() or name_text in result:
            continue
        result[name_text] = cap(value_text, MAX_DETAIL_VALUE)
        if len(result) >= MAX_DETAILS:
            break
    return result


def media_type(content_type: str | None) -> tuple[str | None, str | None]:
    """(lower-cased media type, None when absent or unspecified; charset parameter or None)."""
    if content_type is None or not content_type.strip():
        return None, None
    main, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    media = main.strip().lower()
    # The type HTTP clients send when told nothing: as good as no Content-Type at all.
    return (None if media == UNSPECIFIED else media), charset


def is_json(media: str | None) -> bool:
    """JSON media types; an absent Content-Type counts as JSON (curl scripts, agents)."""
    return (
        media is None
        or media in JSON_TYPES
        or (media.startswith("application/") and media.endswith("+json"))
    )


def load_json(body: bytes) -> Any:
    """Decode a JSON body (UTF-8, RFC 8259), naming what is wrong when it is not."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the body is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise PayloadError("the body is empty; a JSON object was expected")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except (ValueError, RecursionError):  # huge integers, absurd nesting
        raise PayloadError("the body is not JSON this server can read") from None


def load_json_object(body: bytes) -> dict[str, Any]:
    """A JSON body that must be an object."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object")
    return data


def load_form(body: bytes, charset: str | None) -> list[tuple[str, str]]:
    """Decode an application/x-www-form-urlencoded body."""
    try:
        text = body.decode(charset or "utf-8")
    except LookupError:
        raise UnsupportedMediaTypeError(f"{FORM_TYPE}; charset={charset}") from None
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"the form body is not {charset or 'utf-8'} (byte {exc.start})"
        ) from None
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise PayloadError(f"the form has more than {MAX_FORM_FIELDS} fields") from None


def parse_time(value: Any, field: str) -> tuple[datetime, str]:
    """An RFC 3339 / ISO 8601 time as (UTC datetime, normalised string keeping nanoseconds).

    The string is the identity of an Alertmanager episode, so the same instant written with
    another offset or precision normalises to the same key.
    """
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be an RFC 3339 time string")
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise PayloadError(f"{field} is not an RFC 3339 time: {cap(value, 64)!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    digits = (fraction or "").ljust(9, "0")
    zone_info = UTC
    if zone and zone not in "Zz":
        sign = -1 if zone[0] == "-" else 1
        hhmm = zone[1:].replace(":", "")
        zone_info = timezone(sign * timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[2:])))
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second), 59),
            int(digits[:6]),
            tzinfo=zone_info,
        )
        if zone_info is not UTC:
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise PayloadError(f"{field} is not a valid time: {cap(value, 64)!r}") from None
    if moment.year >= 1000:  # as strftime would write it, without its cost
        whole = (
            f"{moment.year}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        )
    else:  # strftime's own (platform) way with years below 1000
        whole = moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")
    nanos = digits.rstrip("0")
    return moment, f"{whole}.{nanos}Z" if nanos else f"{whole}Z"


def unix_time(value: str, field: str) -> datetime:
    """Unix seconds (as text) as a UTC datetime."""
    try:
        seconds = float(value.strip())
        if not 0 <= seconds < 32_503_680_000:  # before year 3000
            raise ValueError
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError):
        raise PayloadError(f"{field} must be Unix seconds, not {cap(value, 64)!r}") from None


def mapping_items(value: Any, field: str) -> list[tuple[str, Any]]:
    """The items of a JSON object field, or a PayloadError naming it."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"{field} must be a JSON object")
    return [(str(name), item) for name, item in value.items()]

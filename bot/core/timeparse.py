"""Parse user-typed event times (`/timeline add ... at`) and format human durations."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.core.errors import ValidationError

FUTURE_TOLERANCE = timedelta(minutes=1)
_MAX_LEN = 64
_HELP = (
    "use now, HH:MM or 2:05pm (today, else yesterday), -15m or 15 min ago, 1h30m ago, "
    "YYYY-MM-DD HH:MM, or ISO 8601 with an offset (2026-03-01T14:05+01:00)."
)
_REL = re.compile(r"-\s*(?P<neg>.*)|(?P<ago>.*?)\s*ago")
_FUTURE = re.compile(r"\+\s*(?P<plus>.*)|in\s+(?P<in>.*)|(?P<from>.*?)\s*from\s+now")
_UNIT = {
    "d": r"(?:days?|d)",
    "h": r"(?:hours?|hrs?|h)",
    "m": r"(?:minutes?|mins?|m)",
    "s": r"(?:seconds?|secs?|s)",
}
# 1d2h3m4s, 1 hour 30 min, 5 mins: units in this order, each at most once.
_AMOUNT = re.compile(r"\s*,?\s*".join(rf"(?:(\d+)\s*{u}(?![a-z]))?" for u in _UNIT.values()))
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_CLOCK12 = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?")
_FULL = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:t|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?"
    r"\s*(?:(?P<z>z)|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2})?)?"
)


def _show(text: str) -> str:
    """Echo user input back on one short line so error messages stay readable."""
    return " ".join(text.split())[:40]


def _wall_to_utc(naive: datetime, tz: ZoneInfo, now: datetime) -> datetime:
    """Resolve a naive wall-clock time in tz to UTC, handling DST gaps and overlaps.

    Gap (time skipped by spring-forward): ValidationError. Overlap (time repeated by
    fall-back): the later occurrence (fold=1) unless it is in the future relative to
    `now`, then the earlier one (fold=0).
    """
    early = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    late = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if early.astimezone(tz).replace(tzinfo=None) != naive:
        raise ValidationError(
            f"{naive:%H:%M} on {naive:%Y-%m-%d} does not exist in {tz.key} "
            "because of the clock change (daylight saving time)."
        )
    if late > early and late <= now + FUTURE_TOLERANCE:
        return late
    return early


def _relative(amount: str, text: str, now: datetime) -> datetime:
    """Subtract a duration like '1h30m' from now in absolute time (DST-independent)."""
    m = _AMOUNT.fullmatch(amount.strip())
    if not m or not any(m.groups()):
        raise ValidationError(f"Could not read time '{_show(text)}': {_HELP}")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    if seconds == 0:
        raise ValidationError(f"Relative time '{_show(text)}' must be more than zero.")
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        raise ValidationError(f"Relative time '{_show(text)}' is too far back.") from None


def _twelve_hour(m: re.Match[str]) -> tuple[int, int, int]:
    """2pm, 2:05 pm, 12am: the 24-hour clock's hour, minute and second."""
    hour = int(m[1])
    if not 1 <= hour <= 12:
        raise ValidationError(f"'{m[0]}' is not a valid time of day: {_HELP}")
    return hour % 12 + (12 if m[3] == "p" else 0), int(m[2] or 0), 0


def _clock(hms: tuple[int, int, int], shown: str, now: datetime, tz: ZoneInfo) -> datetime:
    """HH:MM[:SS] today in tz; if that is more than a minute ahead of now, yesterday."""
    try:
        t = time(*hms)
    except ValueError:
        raise ValidationError(f"'{shown}' is not a valid time of day: {_HELP}") from None
    local_now = now.astimezone(tz)
    today = datetime.combine(local_now.date(), t)
    try:
        result = _wall_to_utc(today, tz, now)
    except ValidationError:
        # Today's wall time is in a DST gap. The wall clock is monotonic on a
        # spring-forward day, so the gap is past (refuse) iff its wall time is.
        if today <= local_now.replace(tzinfo=None) + FUTURE_TOLERANCE:
            raise
        result = None
    if result is not None and result <= now + FUTURE_TOLERANCE:
        return result
    return _wall_to_utc(datetime.combine(local_now.date() - timedelta(days=1), t), tz, now)


def _full(m: re.Match[str], text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """YYYY-MM-DD[T ]HH:MM[:SS] either with an explicit offset/Z or as wall time in tz."""
    y, mo, d, h, mi = (int(g) for g in m.groups()[:5])
    sec, frac = int(m[6] or 0), int((m[7] or "0").ljust(6, "0"))
    try:
        naive = datetime.combine(date(y, mo, d), time(h, mi, sec, frac))
        if m["z"]:
            return naive.replace(tzinfo=UTC)
        if m["sign"]:
            off = timedelta(hours=int(m["oh"]), minutes=int(m["om"] or 0))
            off = -off if m["sign"] == "-" else off
            return naive.replace(tzinfo=timezone(off)).astimezone(UTC)
        return _wall_to_utc(naive, tz, now)
    except (ValueError, OverflowError):  # 2026-02-30, or year 1 / 9999 leaving the calendar
        raise ValidationError(f"'{_show(text)}' is not a valid date and time: {_HELP}") from None


def _unreadable(s: str, text: str) -> str:
    """Why a time was not read: a future amount, an amount without direction, or garbage."""
    future = _FUTURE.fullmatch(s)
    amount = next((g for g in future.groups() if g is not None), "") if future else s
    m = _AMOUNT.fullmatch(amount.strip())
    if m and any(m.groups()):
        past = amount.strip()
        if future:
            return (
                f"Time '{_show(text)}' is in the future; timeline entries record what "
                f"already happened: write -{past} or {past} ago for that long ago."
            )
        return f"Time '{_show(text)}' needs a direction: write -{past} or {past} ago."
    return f"Could not read time '{_show(text)}': {_HELP}"


def parse_at(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """Turn the `at` option into an aware UTC datetime; reject garbage and future times.

    Forms: `now`; `-15m`, `-2h`, `-1h30m`, `-1d`, `15m ago`, `5 min ago`, `2 hours ago`
    (absolute elapsed time, so `-2h` across a DST change is exactly 7200 s); `HH:MM[:SS]` or
    `2pm` / `2:05 pm` today in `tz`, or yesterday if today's would be more than 1 minute
    ahead (at 00:10, `23:50` means 20 minutes ago);
    `YYYY-MM-DD HH:MM[:SS]` (space or T) as wall time in `tz`; ISO 8601 with `Z`/offset.
    Wall times skipped by spring-forward raise ValidationError; wall times repeated by
    fall-back take the later occurrence unless it is in the future, else the earlier one.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    s = text.strip().lower()
    if len(s) > _MAX_LEN:
        raise ValidationError(f"Could not read time '{_show(text)}…': {_HELP}")
    if s == "now":
        return now
    if m := _REL.fullmatch(s):
        result = _relative(m["neg"] if m["neg"] is not None else m["ago"], text, now)
    elif m := _CLOCK.fullmatch(s):
        result = _clock((int(m[1]), int(m[2]), int(m[3] or 0)), m[0], now, tz)
    elif m := _CLOCK12.fullmatch(s):
        result = _clock(_twelve_hour(m), m[0], now, tz)
    elif m := _FULL.fullmatch(s):
        result = _full(m, text, now, tz)
    else:
        raise ValidationError(_unreadable(s, text))
    if result > now + FUTURE_TOLERANCE:
        try:
            when = f"{result.astimezone(tz):%Y-%m-%d %H:%M} {tz.key}"
        except OverflowError:  # 9999-12-31 late in UTC has no local date
            when = f"{result:%Y-%m-%d %H:%M} UTC"
        raise ValidationError(
            f"Time '{_show(text)}' ({when}) is in the future; "
            "timeline entries record what already happened."
        )
    return result


def utc_text(at: datetime) -> str:
    """A full UTC date and time, as every export shows one: `2026-03-29 00:14:05`."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    """Render a duration compactly for cards and postmortems: 45s, 5m 07s, 1h 05m, 2d 3h."""
    if not math.isfinite(seconds):
        raise ValueError("duration must be finite")
    sign, total = ("-" if seconds < 0 else ""), int(abs(seconds))
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        parts = f"{d}d" + (f" {h}h" if h else "")
    elif h:
        parts = f"{h}h" + (f" {m:02d}m" if m else "")
    elif m:
        parts = f"{m}m" + (f" {s:02d}s" if s else "")
    else:
        parts = f"{s}s"
    return sign + parts


def parse_duration(text: str, what: str) -> timedelta:
    """A duration such as `5m`, `1h30m`, `90s` or `2d`; `what` names it in the refusal."""
    m = _AMOUNT.fullmatch(text.strip().lower())
    if not m or not any(m.groups()):
        raise ValidationError(
            f"Could not read {what} '{_show(text)}': use a duration such as 90s, 5m, 1h30m or 1d."
        )
    d, h, mi, s = (int(g or 0) for g in m.groups())
    try:
        return timedelta(days=d, hours=h, minutes=mi, seconds=s)
    except OverflowError:
        raise ValidationError(f"{what.capitalize()} '{_show(text)}' is too long.") from None

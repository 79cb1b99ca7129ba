"""Unit tests for bot.core.timeparse: the `/timeline add ... at` parser and format_duration."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import ValidationError
from bot.core.timeparse import format_duration, parse_at

UTC_TZ = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
ZONES = [UTC_TZ, BERLIN, NEW_YORK, KOLKATA]
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    """Build an aware UTC_TZ datetime tersely."""
    return datetime(*args, tzinfo=UTC)


def rejects(text: str, now: datetime = NOW, tz: ZoneInfo = UTC_TZ) -> str:
    """Assert parse_at raises ValidationError with a one-line message, and return it."""
    with pytest.raises(ValidationError) as info:
        parse_at(text, now=now, tz=tz)
    message = str(info.value)
    assert message and "\n" not in message
    return message


# --- now and relative forms -------------------------------------------------------------


@pytest.mark.parametrize("text", ["now", "NOW", "  Now  "])
def test_now_returns_now_in_utc(text: str) -> None:
    """`now` (any case, padded) is the given instant, as a UTC_TZ datetime."""
    result = parse_at(text, now=NOW, tz=BERLIN)
    assert result == NOW and result.utcoffset() == timedelta(0)


def test_now_given_in_other_offset_is_returned_in_utc() -> None:
    """An aware `now` in a non-UTC_TZ offset is normalised to UTC_TZ on return."""
    now = datetime(2026, 6, 15, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    result = parse_at("now", now=now, tz=BERLIN)
    assert result == NOW and result.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("-15m", timedelta(minutes=15)),
        ("-2h", timedelta(hours=2)),
        ("-90s", timedelta(seconds=90)),
        ("-1h30m", timedelta(hours=1, minutes=30)),
        ("-1h 30m", timedelta(hours=1, minutes=30)),
        ("-1d", timedelta(days=1)),
        ("-1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("  -15M ", timedelta(minutes=15)),
        ("15m ago", timedelta(minutes=15)),
        ("2H AGO", timedelta(hours=2)),
        ("1h30m ago", timedelta(hours=1, minutes=30)),
    ],
)
def test_relative_forms_subtract_from_now(text: str, delta: timedelta) -> None:
    """Each relative form means that much elapsed time before now."""
    result = parse_at(text, now=NOW, tz=NEW_YORK)
    assert result == NOW - delta and result.tzinfo == UTC


@pytest.mark.parametrize("text", ["-0m", "-0h0m", "0m ago", "-0s"])
def test_zero_relative_amount_is_rejected(text: str) -> None:
    """A relative amount of zero is an error, not a silent `now`."""
    assert "more than zero" in rejects(text)


@pytest.mark.parametrize("text", ["-", "ago", "- ", "-m", "-15x", "--15m", "-15m ago", "-1m1h"])
def test_malformed_relative_is_unparseable(text: str) -> None:
    """Empty or malformed relative amounts get the 'accepted forms' error."""
    assert "Could not read time" in rejects(text)


@pytest.mark.parametrize("text", ["15m", "+15m", "in 15m"])
def test_relative_without_minus_or_ago_is_rejected(text: str) -> None:
    """Only the past is expressible relatively: a bare or `+` amount is refused."""
    rejects(text)


def test_relative_too_far_back_is_a_validation_error() -> None:
    """An amount reaching before year 1 is a ValidationError, not an OverflowError."""
    assert "too far back" in rejects("-1000000d")
    assert "too far back" in rejects("-99999999999999d")


@given(
    now=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(UTC),
    ),
    minutes=st.integers(min_value=1, max_value=10000),
    tz=st.sampled_from(ZONES),
)
def test_property_minus_minutes_is_exact(now: datetime, minutes: int, tz: ZoneInfo) -> None:
    """For any now and 1..10000 minutes, `-{m}m` is exactly now minus m minutes."""
    assert parse_at(f"-{minutes}m", now=now, tz=tz) == now - timedelta(minutes=minutes)


# --- HH:MM ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("09:30", UTC_TZ, utc(2026, 6, 15, 9, 30)),
        ("9:05", UTC_TZ, utc(2026, 6, 15, 9, 5)),
        ("09:30:15", UTC_TZ, utc(2026, 6, 15, 9, 30, 15)),
        ("13:00", BERLIN, utc(2026, 6, 15, 11, 0)),  # CEST, UTC_TZ+2
        ("07:45", NEW_YORK, utc(2026, 6, 15, 11, 45)),  # EDT, UTC_TZ-4
        ("17:00", KOLKATA, utc(2026, 6, 15, 11, 30)),  # IST, UTC_TZ+5:30
    ],
)
def test_clock_time_is_today_in_guild_timezone(text: str, tz: ZoneInfo, expected: datetime) -> None:
    """HH:MM / H:MM / HH:MM:SS mean that wall-clock time today in the guild's zone."""
    assert parse_at(text, now=NOW, tz=tz) == expected


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("09:00", NEW_YORK, utc(2026, 6, 14, 13, 0)),  # 08:00 EDT now, so 09:00 was yesterday
        ("18:00", KOLKATA, utc(2026, 6, 14, 12, 30)),  # 17:30 IST now
        ("14:30", BERLIN, utc(2026, 6, 14, 12, 30)),  # 14:00 CEST now
    ],
)
def test_clock_time_later_than_now_means_yesterday(
    text: str, tz: ZoneInfo, expected: datetime
) -> None:
    """An HH:MM more than a minute ahead of local now is read as yesterday, never the future."""
    assert parse_at(text, now=NOW, tz=tz) == expected


@pytest.mark.parametrize(
    ("tz", "now", "text", "expected"),
    [
        (BERLIN, utc(2026, 6, 14, 22, 10), "23:50", utc(2026, 6, 14, 21, 50)),  # 00:10 CEST
        (BERLIN, utc(2026, 6, 14, 22, 10), "00:05", utc(2026, 6, 14, 22, 5)),
        (NEW_YORK, utc(2026, 1, 10, 5, 5), "23:30", utc(2026, 1, 10, 4, 30)),  # 00:05 EST
        (KOLKATA, utc(2026, 6, 14, 18, 45), "23:55", utc(2026, 6, 14, 18, 25)),  # 00:15 IST
        (UTC_TZ, utc(2026, 6, 15, 0, 10), "23:50", utc(2026, 6, 14, 23, 50)),
    ],
)
def test_yesterday_rule_around_midnight(
    tz: ZoneInfo, now: datetime, text: str, expected: datetime
) -> None:
    """Just after local midnight, a late-evening HH:MM means minutes ago, yesterday."""
    result = parse_at(text, now=now, tz=tz)
    assert result == expected and now - result < timedelta(hours=1)


def test_clock_time_within_one_minute_ahead_stays_today() -> None:
    """Up to one minute ahead (clock skew) counts as today; two minutes ahead is yesterday."""
    now = utc(2026, 6, 14, 22, 10)  # 00:10 CEST on 2026-06-15
    assert parse_at("00:11", now=now, tz=BERLIN) == utc(2026, 6, 14, 22, 11)
    assert parse_at("00:12", now=now, tz=BERLIN) == utc(2026, 6, 13, 22, 12)


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(UTC),
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    tz=st.sampled_from(ZONES),
)
def test_property_clock_time_is_within_last_day(
    now: datetime, hour: int, minute: int, tz: ZoneInfo
) -> None:
    """Any HH:MM resolves to at most 1 min ahead and at most 25 h (a DST day) + 1 min back."""
    try:
        result = parse_at(f"{hour:02d}:{minute:02d}", now=now, tz=tz)
    except ValidationError as exc:
        assert "does not exist" in str(exc)  # only a spring-forward gap may refuse
        return
    assert now - timedelta(hours=25, minutes=1) <= result <= now + timedelta(minutes=1)


@pytest.mark.parametrize("text", ["24:00", "12:60", "23:59:60", "99:99"])
def test_out_of_range_clock_time_is_rejected(text: str) -> None:
    """Hours/minutes/seconds out of range are a readable ValidationError."""
    assert "not a valid time" in rejects(text)


# --- full dates and ISO 8601 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-06-15 09:30", BERLIN, utc(2026, 6, 15, 7, 30)),
        ("2026-06-15T09:30:45", BERLIN, utc(2026, 6, 15, 7, 30, 45)),
        ("2026-06-15t09:30", BERLIN, utc(2026, 6, 15, 7, 30)),
        ("2026-01-10 09:00", NEW_YORK, utc(2026, 1, 10, 14, 0)),  # EST, UTC_TZ-5
        ("2026-06-10 09:00", NEW_YORK, utc(2026, 6, 10, 13, 0)),  # EDT, UTC_TZ-4
        ("2026-06-15 09:00", KOLKATA, utc(2026, 6, 15, 3, 30)),
        ("2026-06-15  9:00", UTC_TZ, utc(2026, 6, 15, 9, 0)),
    ],
)
def test_date_and_time_without_offset_is_wall_time(
    text: str, tz: ZoneInfo, expected: datetime
) -> None:
    """YYYY-MM-DD HH:MM[:SS] (space or T) without offset is wall-clock time in the guild zone."""
    assert parse_at(text, now=NOW, tz=tz) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-29T01:30:00+02:00", utc(2026, 3, 28, 23, 30)),
        ("2026-03-29T01:30Z", utc(2026, 3, 29, 1, 30)),
        ("2026-03-29t01:30z", utc(2026, 3, 29, 1, 30)),
        ("2026-03-29 01:30:00-05:00", utc(2026, 3, 29, 6, 30)),
        ("2026-03-29T01:30+0530", utc(2026, 3, 28, 20, 0)),
        ("2026-03-29T01:30:00.250Z", utc(2026, 3, 29, 1, 30, 0, 250000)),
    ],
)
@pytest.mark.parametrize("tz", [UTC_TZ, BERLIN, NEW_YORK])
def test_iso_with_offset_ignores_guild_timezone(
    text: str, expected: datetime, tz: ZoneInfo
) -> None:
    """An explicit offset or Z fixes the instant regardless of the guild's zone."""
    result = parse_at(text, now=NOW, tz=tz)
    assert result == expected and result.tzinfo == UTC


def test_explicit_offset_bypasses_dst_gap() -> None:
    """02:30 with an explicit offset on a spring-forward day is a real instant, not a gap."""
    result = parse_at("2026-03-29T02:30+01:00", now=NOW, tz=BERLIN)
    assert result == utc(2026, 3, 29, 1, 30)


@pytest.mark.parametrize(
    "text", ["2026-02-30 10:00", "2026-13-01 10:00", "2026-02-30T10:00Z", "2025-02-29T10:00+01:00"]
)
def test_invalid_calendar_date_is_validation_error(text: str) -> None:
    """Impossible dates raise ValidationError (never a raw ValueError)."""
    assert "not a valid date" in rejects(text)


@pytest.mark.parametrize(
    ("text", "tz"),
    [
        ("9999-12-31 23:00", NEW_YORK),
        ("0001-01-01 00:00", BERLIN),
        ("0001-01-01T00:00+01:00", UTC_TZ),
    ],
)
def test_dates_leaving_the_calendar_are_validation_errors(text: str, tz: ZoneInfo) -> None:
    """Wall times whose UTC instant falls outside year 1..9999 raise ValidationError."""
    assert "not a valid date" in rejects(text, tz=tz)


def test_far_future_message_survives_calendar_edge() -> None:
    """A future time at the very end of the calendar still yields a readable error."""
    assert "in the future" in rejects("9999-12-31T23:59Z", tz=KOLKATA)


# --- DST --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz"),
    [("2026-03-29 02:30", BERLIN), ("2026-03-08 02:30", NEW_YORK), ("2026-03-29T02:00", BERLIN)],
)
def test_spring_forward_gap_does_not_exist(text: str, tz: ZoneInfo) -> None:
    """A wall time skipped by the spring-forward clock change is refused, naming the zone."""
    message = rejects(text, tz=tz)
    assert "does not exist" in message and tz.key in message and "clock change" in message


def test_clock_time_in_todays_past_gap_is_rejected() -> None:
    """On the spring-forward day after the jump, HH:MM inside the gap is refused."""
    now = utc(2026, 3, 29, 8, 0)  # 10:00 CEST
    assert "does not exist" in rejects("02:30", now=now, tz=BERLIN)


def test_clock_time_in_todays_future_gap_means_yesterday() -> None:
    """Before the jump, HH:MM inside today's (future) gap is simply yesterday's time."""
    now = utc(2026, 3, 29, 0, 30)  # 01:30 CET, gap starts at 02:00
    assert parse_at("02:30", now=now, tz=BERLIN) == utc(2026, 3, 28, 1, 30)


def test_clock_time_resolving_to_yesterdays_gap_is_rejected() -> None:
    """If the yesterday rule lands in yesterday's gap, that is refused too."""
    now = utc(2026, 3, 30, 0, 10)  # 02:10 CEST on 2026-03-30
    assert "2026-03-29" in rejects("02:30", now=now, tz=BERLIN)


@pytest.mark.parametrize(
    ("text", "tz", "now", "expected"),
    [
        # Long after the overlap: the later occurrence (fold=1, standard time).
        ("2026-10-25 02:30", BERLIN, utc(2026, 10, 26), utc(2026, 10, 25, 1, 30)),
        ("2026-11-01 01:30", NEW_YORK, utc(2026, 11, 2), utc(2026, 11, 1, 6, 30)),
        # During the overlap, the later occurrence is still ahead: take the earlier one.
        ("2026-10-25 02:30", BERLIN, utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 0, 30)),
        ("2026-11-01 01:30", NEW_YORK, utc(2026, 11, 1, 6, 0), utc(2026, 11, 1, 5, 30)),
    ],
)
def test_fall_back_ambiguity_takes_latest_past_occurrence(
    text: str, tz: ZoneInfo, now: datetime, expected: datetime
) -> None:
    """A repeated wall time picks fold=1 unless that is in the future, then fold=0."""
    assert parse_at(text, now=now, tz=tz) == expected


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (utc(2026, 10, 25, 0, 10), "02:05", utc(2026, 10, 25, 0, 5)),  # 02:10 CEST, 1st pass
        (utc(2026, 10, 25, 0, 10), "02:50", utc(2026, 10, 24, 0, 50)),  # not yet: yesterday
        (utc(2026, 10, 25, 1, 40), "02:30", utc(2026, 10, 25, 1, 30)),  # 02:40 CET, 2nd pass
        (utc(2026, 10, 25, 1, 40), "02:50", utc(2026, 10, 25, 0, 50)),  # only 1st pass is past
    ],
)
def test_clock_time_during_fall_back_overlap(now: datetime, text: str, expected: datetime) -> None:
    """HH:MM inside the repeated hour resolves to the most recent past occurrence."""
    assert parse_at(text, now=now, tz=BERLIN) == expected


@pytest.mark.parametrize(
    ("tz", "now"),
    [
        (BERLIN, utc(2026, 3, 29, 2, 0)),  # 04:00 CEST; 2 h ago was 01:00 CET
        (BERLIN, utc(2026, 10, 25, 2, 0)),  # 03:00 CET; 2 h ago was 02:00 CEST
        (NEW_YORK, utc(2026, 3, 8, 8, 0)),  # 04:00 EDT
        (NEW_YORK, utc(2026, 11, 1, 7, 0)),  # 02:00 EST
    ],
)
def test_relative_across_dst_change_is_elapsed_time(tz: ZoneInfo, now: datetime) -> None:
    """`-2h` across a DST change is exactly 7200 elapsed seconds, whatever the wall clock did."""
    result = parse_at("-2h", now=now, tz=tz)
    assert (now - result).total_seconds() == 7200
    wall = now.astimezone(tz).replace(tzinfo=None) - result.astimezone(tz).replace(tzinfo=None)
    assert wall != timedelta(hours=2)  # the wall clock moved by 1 h or 3 h


# --- future and garbage -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz"),
    [
        ("2026-06-15 13:00", UTC_TZ),
        ("2026-06-15T12:02Z", BERLIN),
        ("2026-06-15 14:30", BERLIN),  # 12:30 UTC_TZ
        ("2027-01-01 00:00", KOLKATA),
    ],
)
def test_future_time_is_rejected(text: str, tz: ZoneInfo) -> None:
    """Results more than a minute after now are refused: the timeline records the past."""
    assert "in the future" in rejects(text, tz=tz)


def test_up_to_one_minute_ahead_is_tolerated() -> None:
    """A result within one minute ahead of now is accepted (clock skew between people)."""
    assert parse_at("2026-06-15T12:01Z", now=NOW, tz=UTC_TZ) == utc(2026, 6, 15, 12, 1)
    assert parse_at("2026-06-15T12:00:30Z", now=NOW, tz=UTC_TZ) == utc(2026, 6, 15, 12, 0, 30)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "xyz",
        "12",
        "1230",
        "12:5",
        "yesterday",
        "2026-03-29",
        "29/03/2026 10:00",
        "2026-03-29 10:00 Europe/Berlin",
        "2026-03-29T10:00+2",
        "now please",
        "-15m" * 20,
        "12:00\n<@123>",
    ],
)
def test_garbage_is_rejected_with_accepted_forms(text: str) -> None:
    """Unparseable input raises a one-line ValidationError naming the accepted forms."""
    message = rejects(text)
    assert "Could not read time" in message
    assert "HH:MM" in message and "YYYY-MM-DD HH:MM" in message and "-15m" in message


@given(
    text=st.one_of(
        st.text(max_size=80),
        st.from_regex(r"-?\d{1,7}[dhms]( ago)?|\d{1,2}:\d{1,2}(:\d{1,2})?", fullmatch=True),
        st.from_regex(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(Z|[+-]\d{2}:?\d{2})?", fullmatch=True),
    ),
    tz=st.sampled_from(ZONES),
)
def test_property_any_input_gives_past_utc_or_validation_error(text: str, tz: ZoneInfo) -> None:
    """Arbitrary input never leaks a raw exception and never yields a future or naive time."""
    try:
        result = parse_at(text, now=NOW, tz=tz)
    except ValidationError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert result.tzinfo == UTC and result <= NOW + timedelta(minutes=1)


def test_naive_now_is_a_programming_error() -> None:
    """Passing a naive `now` is a caller bug and raises ValueError, not ValidationError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_at("now", now=datetime(2026, 6, 15, 12, 0), tz=UTC_TZ)


# --- format_duration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (0.4, "0s"),
        (45, "45s"),
        (59.9, "59s"),
        (60, "1m"),
        (300, "5m"),
        (307, "5m 07s"),
        (3599, "59m 59s"),
        (3600, "1h"),
        (3900, "1h 05m"),
        (3900 + 59, "1h 05m"),
        (86399, "23h 59m"),
        (86400, "1d"),
        (2 * 86400 + 3 * 3600, "2d 3h"),
        (2 * 86400 + 3 * 3600 + 59 * 60, "2d 3h"),
        (40 * 86400, "40d"),
        (-300, "-5m"),
    ],
)
def test_format_duration(seconds: float, expected: str) -> None:
    """Durations render as at most two units, truncated, with padded minor minutes/seconds."""
    assert format_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), float("-inf")])
def test_format_duration_rejects_non_finite(seconds: float) -> None:
    """NaN or infinite durations are a caller bug and raise ValueError."""
    with pytest.raises(ValueError):
        format_duration(seconds)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("5 min ago", timedelta(minutes=5)),
        ("5 mins ago", timedelta(minutes=5)),
        ("2 hours ago", timedelta(hours=2)),
        ("1 hour 30 minutes ago", timedelta(hours=1, minutes=30)),
        ("-15 minutes", timedelta(minutes=15)),
        ("3 days ago", timedelta(days=3)),
    ],
)
def test_spelled_out_units(text: str, delta: timedelta) -> None:
    """Units may be words (min, mins, minutes, hour, hours, days), as people type them."""
    assert parse_at(text, now=NOW, tz=NEW_YORK) == NOW - delta


@pytest.mark.parametrize(
    ("text", "hour", "minute"),
    [("2:00pm", 14, 0), ("2pm", 14, 0), ("2:05 PM", 14, 5), ("11:30 a.m.", 11, 30), ("12am", 0, 0)],
)
def test_twelve_hour_clock(text: str, hour: int, minute: int) -> None:
    """2pm / 2:05 pm / 12am mean that wall-clock time, today or else yesterday, like HH:MM."""
    twenty_four = parse_at(f"{hour:02d}:{minute:02d}", now=NOW, tz=NEW_YORK)
    assert parse_at(text, now=NOW, tz=NEW_YORK) == twenty_four


@pytest.mark.parametrize("text", ["13pm", "0am", "2:61pm"])
def test_impossible_twelve_hour_times(text: str) -> None:
    assert "not a valid time of day" in rejects(text)


@pytest.mark.parametrize("text", ["+5m", "in 5 min", "5 minutes from now"])
def test_future_amounts_are_explained_as_in_the_future(text: str) -> None:
    """A future amount is not "unreadable": it is in the future, and the past form is given."""
    message = rejects(text)
    assert "is in the future" in message and "ago" in message


def test_an_amount_without_direction_says_how_to_write_it() -> None:
    assert rejects("1h30m") == "Time '1h30m' needs a direction: write -1h30m or 1h30m ago."


def test_a_future_clock_time_today_is_yesterday_and_a_future_date_is_refused() -> None:
    """HH:MM never lands in the future (yesterday instead); a dated future time says so."""
    assert parse_at("23:59", now=NOW, tz=NEW_YORK) <= NOW
    assert "is in the future" in rejects("2099-01-01 10:00")

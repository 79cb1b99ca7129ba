"""Rotation rules, shift times and the guild settings of `/opsroom config`: pure core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core import guild_settings
from bot.core.errors import ValidationError
from bot.core.model import GuildConfig, Person, Severity
from bot.core.oncall import (
    Shift,
    ShiftKind,
    advance,
    new_rotation,
    on_duty,
    parse_every,
    parse_handoff,
    parse_until,
)
from bot.core.paging import ack_code_matches, hash_ack_code, new_ack_code, retry_delay

BERLIN = ZoneInfo("Europe/Berlin")
ALICE, BOB, CAROL = Person(1, "alice"), Person(2, "bob"), Person(3, "carol")


def test_handoffs_stay_at_wall_time_across_daylight_saving():
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # a Friday, CET (UTC+1)
    rotation = new_rotation(7, [ALICE, BOB], "Mon 09:00", "1w", BERLIN, now)
    assert rotation.current == ALICE
    assert rotation.next_handoff_at == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # 09:00 CET
    advance(rotation, BERLIN, datetime(2026, 3, 23, 8, 0, tzinfo=UTC))
    assert rotation.current == BOB
    # Clocks went forward on 2026-03-29: the next 09:00 is 07:00 UTC (CEST, UTC+2).
    assert rotation.next_handoff_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert advance(rotation, BERLIN, datetime(2026, 3, 30, 6, 59, tzinfo=UTC)) == 0
    assert advance(rotation, BERLIN, datetime(2026, 3, 30, 7, 0, tzinfo=UTC)) == 1
    assert rotation.current == ALICE


def test_handoffs_missed_while_down_are_caught_up_once_each():
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    rotation = new_rotation(7, [ALICE, BOB, CAROL], "tuesday 18:30", "1d", BERLIN, now)
    assert rotation.next_handoff_at == datetime(2026, 10, 20, 16, 30, tzinfo=UTC)
    assert advance(rotation, BERLIN, datetime(2026, 10, 27, 12, 0, tzinfo=UTC)) == 7
    assert rotation.current == BOB  # 7 turns of 3 members
    # The autumn change (2026-10-25) put 18:30 at 17:30 UTC.
    assert rotation.next_handoff_at == datetime(2026, 10, 27, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "Mon", "Funday 09:00", "Mon 25:00", "Mon 9"])
def test_bad_handoffs_are_refused_in_one_line(text):
    with pytest.raises(ValidationError, match="Mon 09:00"):
        parse_handoff(text)


def test_periods():
    assert parse_every(None) == 7
    assert parse_every("2w") == 14 and parse_every("3d") == 3
    for bad in ("0d", "week", "2y", "999w"):
        with pytest.raises(ValidationError):
            parse_every(bad)


def test_shift_ends():
    now = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # 23:00 in Berlin
    assert parse_until("8h", now=now, tz=BERLIN) == now + timedelta(hours=8)
    assert parse_until("+3d", now=now, tz=BERLIN) == now + timedelta(days=3)
    assert parse_until("18:00", now=now, tz=BERLIN) == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert parse_until("2026-03-05 09:00", now=now, tz=BERLIN) == datetime(
        2026, 3, 5, 8, 0, tzinfo=UTC
    )
    for bad in ("yesterday", "2026-02-01 09:00", "200d"):
        with pytest.raises(ValidationError):
            parse_until(bad, now=now, tz=BERLIN)


def test_override_beats_the_rotation_and_away_hands_over_to_the_backup():
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    rotation = new_rotation(7, [ALICE, BOB], "Mon 09:00", None, BERLIN, now)
    later = now + timedelta(hours=2)
    assert on_duty(rotation, [], now).person == ALICE
    away = Shift(7, ShiftKind.AWAY, ALICE, now, later, backup=CAROL)
    assert on_duty(rotation, [away], now).person == CAROL
    alone = Shift(7, ShiftKind.AWAY, ALICE, now, later)
    duty = on_duty(rotation, [alone], now)
    assert duty.person is None and "away" in duty.reason
    override = Shift(7, ShiftKind.OVERRIDE, BOB, now, later)
    assert on_duty(rotation, [alone, override], now).person == BOB
    assert on_duty(rotation, [away, override], later).person == ALICE  # both over


def test_ack_codes_are_long_random_and_stored_hashed():
    code = new_ack_code()
    assert len(code) >= 43 and code != new_ack_code()  # 256 bits, URL-safe
    assert ack_code_matches(code, hash_ack_code(code))
    assert not ack_code_matches(code[:-1] + "x", hash_ack_code(code))
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 10)] == [15, 30, 60, 300]


def test_guild_settings_are_checked_applied_and_described():
    config = GuildConfig(9)
    assert guild_settings.parse_pairs(["escalate_after=3", "update_sev4=0"]) == {
        "escalate_after": 3,
        "update_sev4": 0,
    }
    guild_settings.apply(config, {"escalate_after": "3", "update_sev2": 0, "escalate_repeats": 1})
    assert config.escalation_minutes == 3 and config.escalation_repeats == 1
    assert config.update_cadence_minutes[Severity.SEV2] is None
    assert guild_settings.current(config)["update_sev2"] == 0
    assert any(
        "update_sev2 = 0: no update nudges" in line for line in guild_settings.describe(config)
    )
    for bad, message in [
        (["escalate_after=-1"], "escalate_after must be a whole number from 0 to 1440"),
        (["escalate_after=2000"], "from 0 to 1440"),
        (["bogus=1"], "Unknown setting 'bogus'"),
        (["escalate_after"], "is not KEY=VALUE"),
    ]:
        with pytest.raises(ValidationError, match=message):
            guild_settings.parse_pairs(bad)
    before = guild_settings.current(config)
    with pytest.raises(ValidationError):
        guild_settings.apply(config, {"escalate_after": 4, "update_sev1": "x"})
    assert guild_settings.current(config) == before  # all or nothing

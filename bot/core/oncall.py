"""Who is on call: a rotation of members with weekly (or N-day) handoffs in the guild's
timezone, overrides that cover a shift, and aways that hand the pages to a backup.

Handoffs are wall-clock times in the guild's timezone ("Mon 09:00"), so a handoff stays at
09:00 across a daylight-saving change: the next one is the same wall time `every_days`
later, converted to UTC only then. A wall time that does not exist that day (inside the
spring-forward gap) is read with the offset before the change, i.e. an hour later in
local terms; one that happens twice (autumn) is its first occurrence.

Precedence at any moment: an active override's member, else the rotation's member of the
current turn; if that person is away, their backup (or nobody, meaning the escalation
pagers take the on-call pages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.core.alerts import Alert, EscalationTarget
from bot.core.errors import ValidationError
from bot.core.model import GuildConfig, Person

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_MEMBERS = 25
MAX_SHIFT = timedelta(days=90)


class ShiftKind(StrEnum):
    """An override (someone covers the shift) or an away (someone hands theirs over)."""

    OVERRIDE = "override"
    AWAY = "away"


@dataclass
class Rotation:
    """A guild's rotation: members in turn order and the next handoff."""

    guild_id: int
    members: list[Person]
    every_days: int
    next_handoff_local: datetime  # naive: wall time in the guild's timezone
    next_handoff_at: datetime  # the same moment in UTC
    current_index: int
    created_at: datetime
    holder_id: int | None = None  # who the bot last gave the on-call role to

    @property
    def current(self) -> Person:
        return self.members[self.current_index % len(self.members)]

    @property
    def following(self) -> Person:
        return self.members[(self.current_index + 1) % len(self.members)]


@dataclass
class Shift:
    """An override or an away, from `starts_at` until `ends_at` (or until ended early)."""

    guild_id: int
    kind: ShiftKind
    person: Person
    starts_at: datetime
    ends_at: datetime
    backup: Person | None = None
    ended_at: datetime | None = None
    id: int | None = None

    def active(self, now: datetime) -> bool:
        return self.ended_at is None and self.starts_at <= now < self.ends_at


@dataclass(frozen=True)
class OnDuty:
    """Who takes the on-call pings and pages now, and why (for `/oncall who`)."""

    person: Person | None
    reason: str
    away: list[Person] = field(default_factory=list)


def parse_handoff(text: str) -> tuple[int, time]:
    """`Mon 09:00` (any case, 3+ letters of the day) → (weekday 0-6, time)."""
    match = re.fullmatch(r"\s*([A-Za-z]{3,9})\s+(\d{1,2}):(\d{2})\s*", text or "")
    if match:
        day = match.group(1)[:3].lower()
        hour, minute = int(match.group(2)), int(match.group(3))
        if day in WEEKDAYS and hour < 24 and minute < 60:
            return WEEKDAYS.index(day), time(hour, minute)
    raise ValidationError(
        f"Could not read {text!r} as a handoff: use a day and a time, e.g. Mon 09:00."
    )


def parse_every(text: str | None) -> int:
    """`1w`, `2w`, `7d`, `3d` (default one week) → days."""
    if text is None or not text.strip():
        return 7
    match = re.fullmatch(r"\s*(\d{1,3})\s*([dw])\s*", text.lower())
    if not match or int(match.group(1)) == 0:
        raise ValidationError(f"Could not read {text!r} as a period: use e.g. 1w, 2w or 3d.")
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    if days > 365:
        raise ValidationError("A shift can last at most 365 days.")
    return days


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in `tz` as UTC (gap: the offset before the change; fold: the first)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def first_handoff(now: datetime, tz: ZoneInfo, weekday: int, at: time) -> datetime:
    """The next wall time of `weekday` `at` in `tz` strictly after `now` (naive, local)."""
    today = now.astimezone(tz).replace(tzinfo=None)
    candidate = datetime.combine(today.date(), at) + timedelta(days=(weekday - today.weekday()) % 7)
    if to_utc(candidate, tz) <= now:
        candidate += timedelta(days=7)
    return candidate


def new_rotation(
    guild_id: int,
    members: list[Person],
    handoff: str,
    every: str | None,
    tz: ZoneInfo,
    now: datetime,
) -> Rotation:
    """A rotation whose first member is on call from now until the first handoff."""
    unique = list({m.id: m for m in members}.values())
    if not unique:
        raise ValidationError("Name at least one member, e.g. members: @alice @bob.")
    if len(unique) > MAX_MEMBERS:
        raise ValidationError(f"A rotation can have at most {MAX_MEMBERS} members.")
    weekday, at = parse_handoff(handoff)
    every_days = parse_every(every)
    local = first_handoff(now, tz, weekday, at)
    return Rotation(guild_id, unique, every_days, local, to_utc(local, tz), 0, now)


def advance(rotation: Rotation, tz: ZoneInfo, now: datetime) -> int:
    """Make every handoff due by `now` (several after a long outage); returns how many."""
    turns = 0
    while rotation.next_handoff_at <= now:
        rotation.current_index = (rotation.current_index + 1) % len(rotation.members)
        rotation.next_handoff_local += timedelta(days=rotation.every_days)
        rotation.next_handoff_at = to_utc(rotation.next_handoff_local, tz)
        turns += 1
    return turns


def on_duty(rotation: Rotation | None, shifts: list[Shift], now: datetime) -> OnDuty:
    """Who takes the on-call pings and pages at `now`."""
    active = [s for s in shifts if s.active(now)]
    away = [s for s in active if s.kind is ShiftKind.AWAY]
    overrides = [s for s in active if s.kind is ShiftKind.OVERRIDE]
    if overrides:
        latest = max(overrides, key=lambda s: s.starts_at)
        person, reason = latest.person, f"override until {_iso(latest.ends_at)}"
    elif rotation is not None:
        person, reason = rotation.current, "rotation"
    else:
        return OnDuty(None, "no rotation", [s.person for s in away])
    for shift in away:
        if shift.person.id == person.id:
            if shift.backup is not None:
                return OnDuty(
                    shift.backup,
                    f"backup for {person.name} until {_iso(shift.ends_at)}",
                    [s.person for s in away],
                )
            return OnDuty(
                None, f"{person.name} is away until {_iso(shift.ends_at)}", [s.person for s in away]
            )
    return OnDuty(person, reason, [s.person for s in away])


def skip_to_escalation(alert: Alert, config: GuildConfig) -> EscalationTarget:
    """Nobody is on call (the person on duty is away without a backup): the alert's on-call
    escalation goes to the escalation role and its pagers at once, and then stays quiet, as
    after the escalation level."""
    alert.escalation_level = max(alert.escalation_level, config.escalation_repeats + 1)
    alert.next_escalation_at = None
    return EscalationTarget.ESCALATION


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def parse_until(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """When a shift ends: `2h`/`+3d` from now, `HH:MM` (its next occurrence in `tz`), or
    `YYYY-MM-DD HH:MM` (wall time in `tz`) / ISO 8601 with offset; later than now, ≤ 90 days."""
    from bot.core import timeparse

    s = " ".join((text or "").lower().split())
    if m := timeparse._AMOUNT.fullmatch(s.removeprefix("+").strip()):
        if any(m.groups()):
            d, h, mi, sec = (int(g or 0) for g in m.groups())
            result = now + timedelta(days=d, hours=h, minutes=mi, seconds=sec)
        else:
            result = None
    else:
        result = None
    if result is None and (m := timeparse._CLOCK.fullmatch(s)):
        local = now.astimezone(tz)
        try:
            wall = datetime.combine(local.date(), time(int(m[1]), int(m[2])))
        except ValueError:
            raise ValidationError(f"{text!r} is not a valid time of day.") from None
        result = to_utc(wall, tz)
        if result <= now:
            result = to_utc(wall + timedelta(days=1), tz)
    if result is None and (m := timeparse._FULL.fullmatch(s)):
        result = timeparse._full(m, text, now, tz)
    if result is None:
        raise ValidationError(
            f"Could not read {text!r} as an end: use 8h, 3d, 18:00 or 2026-03-05 09:00."
        )
    if result <= now:
        raise ValidationError("That end is already past; give a time in the future.")
    if result - now > MAX_SHIFT:
        raise ValidationError("A shift can last at most 90 days.")
    return result

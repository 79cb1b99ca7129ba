"""The public status page's read model and rules: what the world outside Discord may see.

The public view is its own set of records — page, components, public incidents with their
public updates, maintenance windows — written only by the publishing commands. Nothing is
copied into it from an incident except what a commander or comms typed for the public, so
internal titles, timelines, names and alerts cannot reach it by construction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.core.alerts import Alert
from bot.core.errors import ValidationError
from bot.core.model import GuildConfig, Status
from bot.core.timeparse import _AMOUNT, _CLOCK, _FULL, _full, _wall_to_utc

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
MAX_NAME = 100
MAX_TITLE = 200
MAX_BODY = 4000
HISTORY_DAYS = 90


class ComponentState(StrEnum):
    """Statuspage's component statuses, worst last."""

    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"

    @property
    def label(self) -> str:
        """How the page says it."""
        return self.value.replace("_", " ").capitalize()


class Impact(StrEnum):
    """Statuspage's incident impact, mildest first."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def component_state(self) -> ComponentState:
        """What an incident of this impact does to the components it names."""
        return {
            "none": ComponentState.OPERATIONAL,
            "minor": ComponentState.DEGRADED_PERFORMANCE,
            "major": ComponentState.PARTIAL_OUTAGE,
            "critical": ComponentState.MAJOR_OUTAGE,
        }[self.value]


class PublicStatus(StrEnum):
    """Statuspage's incident statuses (an incident's `closed` is still `resolved` outside)."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"

    @classmethod
    def of(cls, status: Status) -> PublicStatus:
        """The public word for an internal status."""
        return cls.RESOLVED if not status.is_open else cls(status.value)


class MaintenanceStatus(StrEnum):
    """Statuspage's scheduled-maintenance statuses that a window can be in."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass
class StatusPage:
    """A guild's page: where it lives and whether it is served; `version` moves on every
    published change, so every process can tell cheaply that its rendering is stale."""

    guild_id: int
    slug: str
    title: str
    enabled: bool = True
    announcements_channel_id: int | None = None
    version: int = 1
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Component:
    """A part of the service the public knows by name; `held_by` is the incident whose
    impact set the state (it returns to operational when that incident resolves)."""

    guild_id: int
    name: str
    state: ComponentState = ComponentState.OPERATIONAL
    group: str | None = None
    held_by: int | None = None
    code: str = field(default_factory=lambda: new_code())
    position: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None


@dataclass
class PublicUpdate:
    """One public update of a public incident: what the world reads, nothing more."""

    status: PublicStatus
    body: str
    created_at: datetime
    public_incident_id: int | None = None
    announced_message_id: int | None = None
    announced_at: datetime | None = None
    id: int | None = None


@dataclass
class PublicIncident:
    """An incident as published: its public title, impact, components and updates only."""

    guild_id: int
    incident_id: int  # the link back; never shown
    code: str
    title: str
    impact: Impact
    status: PublicStatus
    components: list[str]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    updates: list[PublicUpdate] = field(default_factory=list)
    id: int | None = None

    @property
    def active(self) -> bool:
        """Shown at the top of the page until resolved."""
        return self.status not in (PublicStatus.RESOLVED, PublicStatus.POSTMORTEM)


@dataclass
class Maintenance:
    """A scheduled maintenance window: a notice on the page, a Discord scheduled event, and
    quiet alerts from the listed monitors while it runs."""

    guild_id: int
    code: str
    title: str
    starts_at: datetime
    ends_at: datetime
    components: list[str]
    monitors: list[str]
    created_at: datetime
    created_by_id: int
    cancelled_at: datetime | None = None
    event_id: int | None = None  # the Discord scheduled event
    id: int | None = None

    def status(self, now: datetime) -> MaintenanceStatus:
        """Where the window is now."""
        if now < self.starts_at:
            return MaintenanceStatus.SCHEDULED
        if now < self.ends_at:
            return MaintenanceStatus.IN_PROGRESS
        return MaintenanceStatus.COMPLETED

    def covers(self, monitor: str, at: datetime) -> bool:
        """Whether an alert from `monitor` at `at` falls in this (not cancelled) window."""
        if self.cancelled_at is not None or not self.starts_at <= at < self.ends_at:
            return False
        return monitor.casefold() in {m.casefold() for m in self.monitors}


def new_code() -> str:
    """A public id in Statuspage's style (12 lowercase letters and digits)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def check_slug(slug: str) -> str:
    """A slug fit for a URL path, or a refusal saying what is allowed."""
    slug = slug.strip().lower()
    if not SLUG.fullmatch(slug):
        raise ValidationError(
            "A page slug is 1–40 lowercase letters, digits and hyphens, such as `status` or "
            "`my-service` (no hyphen at either end)."
        )
    return slug


def clean(text: str, what: str, limit: int) -> str:
    """Trimmed one-line-safe public text within `limit` characters, or a refusal."""
    text = text.strip()
    if not text:
        raise ValidationError(f"{what} is empty.")
    if len(text) > limit:
        raise ValidationError(f"{what} is {len(text)} characters; keep it under {limit}.")
    return text


def names(text: str | None) -> list[str]:
    """A comma-separated option as a list of distinct names, in the order given."""
    seen: dict[str, str] = {}
    for part in (text or "").split(","):
        name = part.strip()
        if name:
            seen.setdefault(name.casefold(), clean(name, "A name", MAX_NAME))
    return list(seen.values())


def parse_window(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """A maintenance start or end: `+2h` / `+1d30m` from now, `HH:MM` (next time on the
    clock), `YYYY-MM-DD HH:MM` in the guild's timezone, or ISO 8601 with an offset."""
    s = text.strip().lower()
    help_ = "use +2h, HH:MM, YYYY-MM-DD HH:MM or an ISO 8601 time with offset."
    if s.startswith("+") and (m := _AMOUNT.fullmatch(s[1:].strip())) and any(m.groups()):
        d, h, mi, sec = (int(g or 0) for g in m.groups())
        return now + timedelta(days=d, hours=h, minutes=mi, seconds=sec)
    if m := _CLOCK.fullmatch(s):
        hour, minute = int(m[1]), int(m[2])
        if hour > 23 or minute > 59:
            raise ValidationError(f"{text!r} is not a time of day: {help_}")
        local = now.astimezone(tz).replace(tzinfo=None)
        wall = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if wall <= local:
            wall += timedelta(days=1)
        return _wall_to_utc(wall, tz, now)
    if m := _FULL.fullmatch(s):
        return _full(m, text, now, tz)
    raise ValidationError(f"Could not read time {text[:40]!r}: {help_}")


def check_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """A window that ends after it starts, and not in the past."""
    if ends_at <= starts_at:
        raise ValidationError("The maintenance must end after it starts.")
    if ends_at <= now:
        raise ValidationError("That maintenance window is already over.")
    if ends_at - starts_at > timedelta(days=30):
        raise ValidationError("A maintenance window can last at most 30 days.")


INDICATORS = ("none", "minor", "major", "critical")
_STATE_INDICATOR = {
    ComponentState.OPERATIONAL: "none",
    ComponentState.DEGRADED_PERFORMANCE: "minor",
    ComponentState.PARTIAL_OUTAGE: "major",
    ComponentState.MAJOR_OUTAGE: "critical",
    ComponentState.UNDER_MAINTENANCE: "maintenance",
}
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
    "maintenance": "Service Under Maintenance",
}


def overall(
    components: list[Component],
    incidents: list[PublicIncident],
    maintenances: list[Maintenance],
    now: datetime,
) -> str:
    """Statuspage's page indicator: the worst of active incidents and component states;
    `maintenance` when nothing is wrong but a window is running."""
    worst = 0
    maintenance = any(m.status(now) is MaintenanceStatus.IN_PROGRESS for m in maintenances)
    for c in components:
        word = _STATE_INDICATOR[c.state]
        if word == "maintenance":
            maintenance = True
        else:
            worst = max(worst, INDICATORS.index(word))
    for i in incidents:
        if i.active:
            worst = max(worst, INDICATORS.index(i.impact.value))
    if worst == 0 and maintenance:
        return "maintenance"
    return INDICATORS[worst]


def effective_states(
    components: list[Component], maintenances: list[Maintenance], now: datetime
) -> dict[str, ComponentState]:
    """Each component's state as shown now: a running window puts an operational component
    it names under maintenance (an outage still shows as the outage)."""
    shown = {c.name: c.state for c in components}
    for m in maintenances:
        if m.status(now) is MaintenanceStatus.IN_PROGRESS:
            for name in m.components:
                if shown.get(name) is ComponentState.OPERATIONAL:
                    shown[name] = ComponentState.UNDER_MAINTENANCE
    return shown


def resume_after_maintenance(alert: Alert, config: GuildConfig, now: datetime) -> None:
    """A cancelled window gives its quiet alert back to escalation: the first ping comes
    `escalation_minutes` from now, unless someone already took the alert."""
    alert.maintenance_id = None
    if alert.is_open and alert.acknowledged_at is None:
        alert.next_escalation_at = now + timedelta(minutes=config.escalation_minutes)


def quiet_in_maintenance(alert: Alert, windows: list[Maintenance], at: datetime) -> bool:
    """Put a firing alert from a monitor under maintenance at `at` in that window: shown
    "in maintenance" and never escalated. True when it changed."""
    if alert.maintenance_id is not None or not alert.is_open:
        return False
    for window in windows:
        if window.guild_id == alert.guild_id and window.covers(alert.monitor, at):
            alert.maintenance_id = window.id
            alert.next_escalation_at = None
            return True
    return False

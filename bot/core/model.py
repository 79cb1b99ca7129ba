"""Incident-side domain objects: guild configuration, incidents, roles, timeline, actions, notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.errors import ValidationError


class Severity(StrEnum):
    """How bad it is; sev1 is the worst."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"

    @property
    def label(self) -> str:
        """The word teams use for the level, shown beside the code."""
        return {"sev1": "critical", "sev2": "major", "sev3": "minor", "sev4": "low"}[self.value]


class Status(StrEnum):
    """Where the incident is in its life; declared in lifecycle order."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def rank(self) -> int:
        """Position in the lifecycle, so forward and backward moves can be told apart."""
        return list(Status).index(self)

    @property
    def is_open(self) -> bool:
        """Open incidents are the ones people are still working on (not resolved or closed)."""
        return self.rank < Status.RESOLVED.rank


OPEN_STATUSES = frozenset(s for s in Status if s.is_open)


class IncidentRole(StrEnum):
    """Who does what during the incident; exactly one commander, any number of the rest."""

    COMMANDER = "commander"
    SCRIBE = "scribe"
    COMMS = "comms"
    OPS = "ops"


class EntrySource(StrEnum):
    """How a timeline entry got there."""

    COMMAND = "command"
    MESSAGE = "message"
    ALERT = "alert"
    SYSTEM = "system"


class EntryKind(StrEnum):
    """What a timeline entry records, so renderers can mark changes apart from notes."""

    DECLARED = "declared"
    NOTE = "note"
    REPORT = "report"  # someone noticed or reported the problem: it can set `detected_at`
    EVIDENCE = "evidence"  # a log line, graph or quote kept as proof: never a report
    ACTION = "action"  # something a responder did
    DECISION = "decision"
    UPDATE = "update"
    STATUS = "status"
    SEVERITY = "severity"
    ROLE = "role"
    ALERT = "alert"
    MILESTONE = "milestone"  # a milestone inferred or set by hand, from what to what
    PAGE = "page"  # an escalation ping or pager message for one of the incident's alerts

    @property
    def written(self) -> bool:
        """Whether people write entries of this kind (`/timeline add kind`)."""
        return self in WRITTEN_KINDS


WRITTEN_KINDS = (
    EntryKind.NOTE,
    EntryKind.REPORT,
    EntryKind.EVIDENCE,
    EntryKind.ACTION,
    EntryKind.DECISION,
)


class ActionKind(StrEnum):
    """Follow-up categories from incident-review practice."""

    MITIGATE = "mitigate"
    PREVENT = "prevent"
    DETECT = "detect"
    REPAIR = "repair"
    PROCESS = "process"


class ActionStatus(StrEnum):
    """An action item is open until someone marks it done."""

    OPEN = "open"
    DONE = "done"


class PostmortemSection(StrEnum):
    """Sections an author can fill with `/postmortem add`."""

    SUMMARY = "summary"
    IMPACT = "impact"
    ROOT_CAUSE = "root_cause"
    TRIGGER = "trigger"
    RESOLUTION = "resolution"
    WENT_WELL = "went_well"
    WENT_POORLY = "went_poorly"
    LUCKY = "lucky"
    SUPPORTING = "supporting"


@dataclass(frozen=True)
class Person:
    """A Discord user as shown at the time: the id for mentions, the name for exports."""

    id: int
    name: str


@dataclass(frozen=True)
class Member:
    """The person running a command, with what the permission rule needs to know."""

    person: Person
    role_ids: frozenset[int] = frozenset()
    manage_guild: bool = False


DEFAULT_UPDATE_CADENCE_MINUTES: dict[Severity, int | None] = {
    Severity.SEV1: 15,
    Severity.SEV2: 30,
    Severity.SEV3: 60,
    Severity.SEV4: None,
}


@dataclass
class GuildConfig:
    """What `/opsroom setup` stored for one guild."""

    guild_id: int
    responder_role_id: int | None = None
    oncall_role_id: int | None = None
    escalation_role_id: int | None = None
    alerts_channel_id: int | None = None
    operating_room_id: int | None = None
    incident_category_id: int | None = None
    timezone: str = "UTC"
    escalation_minutes: int = 5
    escalation_repeats: int = 3
    update_cadence_minutes: dict[Severity, int | None] = field(
        default_factory=lambda: dict(DEFAULT_UPDATE_CADENCE_MINUTES)
    )
    postmortem_template: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        """The guild's timezone; validated on the way in, so this cannot fail for stored values."""
        return zone(self.timezone)

    def missing(self) -> list[str]:
        """Names of the parts setup still needs, for `/opsroom status` and clear refusals."""
        required = {
            "responder role": self.responder_role_id,
            "alerts channel": self.alerts_channel_id,
            "operating room": self.operating_room_id,
            "incident category": self.incident_category_id,
        }
        return [name for name, value in required.items() if value is None]


def zone(name: str) -> ZoneInfo:
    """An IANA timezone by name, or a ValidationError a user can act on."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown timezone {name!r}: use an IANA name such as Europe/Berlin or UTC."
        ) from None


@dataclass
class RoleAssignment:
    """One person holding one role for a stretch of time; ended assignments are history."""

    role: IncidentRole
    person: Person
    assigned_at: datetime
    ended_at: datetime | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        """Whether the person holds the role now."""
        return self.ended_at is None


@dataclass
class Incident:
    """One incident with its explicit milestones; rules that change it live in lifecycle.py."""

    guild_id: int
    number: int
    title: str
    severity: Severity
    status: Status
    declared_by: Person
    started_at: datetime
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    summary: str = ""
    latest_update: str | None = None
    latest_update_at: datetime | None = None
    channel_id: int | None = None
    card_message_id: int | None = None
    room_message_id: int | None = None
    room_thread_id: int | None = None
    roles: list[RoleAssignment] = field(default_factory=list)
    by_hand: set[str] = field(default_factory=set)  # milestones set with /incident milestone
    id: int | None = None

    @property
    def label(self) -> str:
        """`#12 Database down`, the way people refer to an incident."""
        return f"#{self.number} {self.title}"

    @property
    def commander(self) -> Person | None:
        """The one person in command now."""
        holders = self.holders(IncidentRole.COMMANDER)
        return holders[0] if holders else None

    def holders(self, role: IncidentRole) -> list[Person]:
        """Everyone holding `role` now, in the order they were given it."""
        return [a.person for a in self.roles if a.active and a.role is role]


@dataclass
class TimelineEntry:
    """Something that happened: `event_at` is when it happened, `recorded_at` when we heard."""

    incident_id: int
    kind: EntryKind
    source: EntrySource
    text: str
    event_at: datetime
    recorded_at: datetime
    author: Person | None = None
    jump_url: str | None = None
    message_id: int | None = None
    alert_id: int | None = None
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    seq: int = 0
    id: int | None = None

    @property
    def deleted(self) -> bool:
        """Deleted entries stay stored for the audit trail but are not shown."""
        return self.deleted_at is not None


class RevisionAction(StrEnum):
    """What happened to a timeline entry in its audit trail."""

    EDIT = "edit"
    DELETE = "delete"


@dataclass
class TimelineRevision:
    """The audit record of one edit or delete: who, when, and what the entry said before."""

    entry_id: int
    action: RevisionAction
    at: datetime
    by: Person
    old_text: str
    old_event_at: datetime
    old_kind: EntryKind | None = None
    id: int | None = None


@dataclass
class ActionItem:
    """A follow-up to do after (or during) the incident."""

    incident_id: int
    text: str
    kind: ActionKind
    created_at: datetime
    created_by: Person
    owner: Person | None = None
    due: date | None = None
    status: ActionStatus = ActionStatus.OPEN
    done_at: datetime | None = None
    done_by: Person | None = None
    seq: int = 0
    id: int | None = None


@dataclass
class PostmortemNote:
    """Text an author gave for one postmortem section; several notes per section append."""

    incident_id: int
    section: PostmortemSection
    text: str
    author: Person
    added_at: datetime
    id: int | None = None

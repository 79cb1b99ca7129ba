"""What the postmortem draft says, built purely from what the incident stored.

Durations are measured from `started_at`, the start of impact, as incident reviews do:
time to detect = detected − started, to declare = declared − started, to acknowledge =
acknowledged − started, to mitigate = mitigated − started, to resolve = resolved − started.
Only stored milestones count; one the incident has not reached reads "not yet". Times are
UTC with full dates, so the numbers are exact across midnight and daylight-saving changes.

Detection puts the first alert's *fired* time (with when Opsroom received it: the delivery
delay is a finding of its own) against the first human report: the first `report` entry
or the declaration, whichever came first. Every page sent for the incident's alerts is
listed with whether, by whom and how soon it was answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.alerts import Alert
from bot.core.milestones import first_report
from bot.core.model import (
    ActionItem,
    ActionStatus,
    EntryKind,
    EntrySource,
    Incident,
    IncidentRole,
    PostmortemNote,
    PostmortemSection,
    Status,
    TimelineEntry,
)
from bot.core.pages import Page, answer
from bot.core.timeparse import format_duration, utc_text

NOT_YET = "not yet"
OPSROOM = "Opsroom"  # the author of entries nobody wrote (system entries)

# (measure, milestone attribute) in the order an incident reaches them.
MEASURES = (
    ("Time to detect", "detected_at"),
    ("Time to declare", "declared_at"),
    ("Time to acknowledge", "acknowledged_at"),
    ("Time to mitigate", "mitigated_at"),
    ("Time to resolve", "resolved_at"),
)
MILESTONES = (
    ("Impact started", "started_at"),
    ("Detected", "detected_at"),
    ("Declared", "declared_at"),
    ("Acknowledged", "acknowledged_at"),
    ("Mitigated", "mitigated_at"),
    ("Resolved", "resolved_at"),
    ("Closed", "closed_at"),
)
_STATUS_MOVE = re.compile(r"^Status (\w+) → (\w+)")  # as IncidentService.set_status writes it
_ROLE_ORDER = {role: rank for rank, role in enumerate(IncidentRole)}


def elapsed(start: datetime, end: datetime) -> float:
    """Seconds from start to end in real time.

    Both go to UTC first: Python subtracts two times sharing one tzinfo (say Europe/Berlin)
    by their wall clocks, which is an hour off across a daylight-saving change.
    """
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()


@dataclass(frozen=True)
class Milestone:
    """One stored milestone for the header; `when` is UTC text or "not yet"."""

    label: str
    at: datetime | None
    when: str


@dataclass(frozen=True)
class RoleStretch:
    """One person holding one role from `since` until `until` (None: holds it still)."""

    role: str
    person: str
    since: str
    until: str | None


@dataclass(frozen=True)
class TimelineRow:
    """One timeline entry as the draft shows it."""

    seq: int
    at: datetime
    when: str
    kind: str
    author: str
    text: str
    link: str | None


@dataclass(frozen=True)
class FirstAlert:
    """The alert that fired first: what fired, when it fired and when Opsroom heard of it."""

    source: str
    monitor: str
    title: str
    started: str  # fired, as UTC text
    received: str
    at: datetime  # fired: when the monitor saw the problem
    received_at: datetime
    delivery: str  # how long the alert took to reach Opsroom, in words


@dataclass(frozen=True)
class FirstReport:
    """The first human report: the first `report` entry, or the declaration if earlier."""

    author: str
    at: datetime
    when: str
    text: str
    via: str


@dataclass(frozen=True)
class PageRow:
    """One page sent for an alert of the incident, and how it was answered."""

    at: datetime
    when: str
    level: int
    target: str
    kind: str  # role, member or pager
    alert: str
    answered: bool
    by: str | None
    after: str | None  # how long after the page, as a duration

    @property
    def outcome(self) -> str:
        """`answered by alice after 4m 10s`, or `not answered`."""
        if not self.answered:
            return "not answered"
        return f"answered by {self.by} after {self.after}"


@dataclass(frozen=True)
class Phase:
    """One stretch of the incident in one status (`undeclared`: impact before declaring)."""

    status: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Measure:
    """One response measure: start of impact to a stored milestone."""

    name: str
    milestone: str
    when: str
    seconds: float | None
    duration: str


@dataclass(frozen=True)
class ActionRow:
    """One follow-up for the action-item table."""

    seq: int
    text: str
    kind: str
    owner: str | None
    due: str | None
    status: str
    done: str | None


@dataclass(frozen=True)
class AlertRow:
    """One alert of the incident with its times; None where it has not happened."""

    source: str
    monitor: str
    title: str
    state: str  # firing, resolved, or notice
    started: str
    received: str
    acknowledged_by: str | None
    acknowledged: str | None
    resolved: str | None
    duration: str | None
    count: int
    link: str | None
    notice: bool = False
    fired_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class PostmortemData:
    """Everything the draft shows; a section's notes are None when nobody wrote any yet."""

    number: int
    title: str
    severity: str
    severity_label: str
    status: str
    declared_by: str
    commander: str | None
    started: str
    milestones: tuple[Milestone, ...]
    roles: tuple[RoleStretch, ...]
    summary: tuple[str, ...] | None
    impact: tuple[str, ...] | None
    root_cause: tuple[str, ...] | None
    trigger: tuple[str, ...] | None
    resolution: tuple[str, ...] | None
    went_well: tuple[str, ...] | None
    went_poorly: tuple[str, ...] | None
    lucky: tuple[str, ...] | None
    supporting: tuple[str, ...] | None
    timeline: tuple[TimelineRow, ...]
    first_alert: FirstAlert | None
    first_report: FirstReport
    detection: str
    measures: tuple[Measure, ...]
    actions: tuple[ActionRow, ...]
    alerts: tuple[AlertRow, ...]
    links: tuple[str, ...]
    pages: tuple[PageRow, ...] = ()
    phases: tuple[Phase, ...] = ()
    ends_at: datetime | None = None  # the latest moment the record knows (for the picture)

    @property
    def label(self) -> str:
        """`#12 Database down`."""
        return f"#{self.number} {self.title}"


def build_postmortem(
    incident: Incident,
    *,
    entries: Iterable[TimelineEntry],
    alerts: Iterable[Alert],
    actions: Iterable[ActionItem],
    notes: Iterable[PostmortemNote],
    pages: Iterable[Page] = (),
) -> PostmortemData:
    """The draft's content; sorts and filters itself, so any repository order will do."""
    shown = sorted((e for e in entries if not e.deleted), key=lambda e: (e.event_at, e.seq))
    alert_list = sorted(alerts, key=lambda a: (a.started_at, a.received_at, a.id or 0))
    sources = {a.id: a.source.value for a in alert_list}
    first_alert = _first_alert(alert_list)
    report = _first_report(incident, shown)
    page_rows = _pages(pages, alert_list)
    ends = _ends_at(incident, shown, alert_list, page_rows)
    return PostmortemData(
        number=incident.number,
        title=incident.title,
        severity=incident.severity.value,
        severity_label=incident.severity.label,
        status=incident.status.value,
        declared_by=incident.declared_by.name,
        commander=incident.commander.name if incident.commander else None,
        started=utc_text(incident.started_at),
        milestones=tuple(_milestone(label, getattr(incident, a)) for label, a in MILESTONES),
        roles=_roles(incident),
        **_sections(incident, notes),
        timeline=tuple(_row(e, sources) for e in shown),
        first_alert=first_alert,
        first_report=report,
        detection=_detection(first_alert, report),
        measures=tuple(_measure(name, attr, incident) for name, attr in MEASURES),
        actions=tuple(_action(a) for a in sorted(actions, key=lambda a: a.seq)),
        alerts=tuple(_alert(a) for a in alert_list),
        links=_unique([e.jump_url for e in shown] + [a.link for a in alert_list]),
        pages=page_rows,
        phases=_phases(incident, shown, ends),
        ends_at=ends,
    )


def _milestone(label: str, at: datetime | None) -> Milestone:
    return Milestone(label, at, utc_text(at) if at else NOT_YET)


def _maybe(at: datetime | None) -> str | None:
    return utc_text(at) if at else None


def _roles(incident: Incident) -> tuple[RoleStretch, ...]:
    """Every assignment, past and present, in the order they began (commander first on ties)."""
    ordered = sorted(incident.roles, key=lambda a: (a.assigned_at, _ROLE_ORDER[a.role], a.id or 0))
    return tuple(
        RoleStretch(a.role.value, a.person.name, utc_text(a.assigned_at), _maybe(a.ended_at))
        for a in ordered
    )


def _sections(
    incident: Incident, notes: Iterable[PostmortemNote]
) -> dict[str, tuple[str, ...] | None]:
    """Note texts per section in the order added; the summary given at declaration leads."""
    texts: dict[str, list[str]] = {s.value: [] for s in PostmortemSection}
    if incident.summary:
        texts[PostmortemSection.SUMMARY.value].append(incident.summary)
    for note in notes:
        texts[note.section.value].append(note.text)
    return {name: tuple(found) if found else None for name, found in texts.items()}


def _row(e: TimelineEntry, sources: dict[int | None, str]) -> TimelineRow:
    if e.author is not None:
        author = e.author.name
    elif e.source is EntrySource.ALERT:
        author = sources.get(e.alert_id, "alert")
    else:
        author = OPSROOM
    when = utc_text(e.event_at)
    return TimelineRow(e.seq, e.event_at, when, e.kind.value, author, e.text, e.jump_url)


def _first_alert(alerts: Sequence[Alert]) -> FirstAlert | None:
    """The alert that fired first (notices are no alarm): when the monitor saw the problem."""
    alarms = [a for a in alerts if not a.notice]
    if not alarms:
        return None
    a = min(alarms, key=lambda a: (a.started_at, a.received_at, a.id or 0))
    delay = elapsed(a.started_at, a.received_at)
    delivery = (
        f"it reached Opsroom {format_duration(delay)} after it fired"
        if delay >= 1
        else "it reached Opsroom as it fired"
    )
    return FirstAlert(
        a.source.value,
        a.monitor,
        a.title,
        utc_text(a.started_at),
        utc_text(a.received_at),
        a.started_at,
        a.received_at,
        delivery,
    )


def _first_report(incident: Incident, shown: Sequence[TimelineEntry]) -> FirstReport:
    """The first `report` entry, unless the declaration came first (it reports, too).

    Only entries a person marked as a report count: a note, a pasted log line kept as
    evidence or an acknowledged alert answers or documents the problem, it does not report it.
    """
    report = first_report(shown)
    if report is not None and report.event_at < incident.declared_at:
        via = "a Discord message" if report.source is EntrySource.MESSAGE else "a report entry"
        author = report.author.name if report.author else OPSROOM
        return FirstReport(author, report.event_at, utc_text(report.event_at), report.text, via)
    declared = next((e for e in shown if e.kind is EntryKind.DECLARED), None)
    text = declared.text if declared else "Declared the incident"
    at = incident.declared_at
    return FirstReport(incident.declared_by.name, at, utc_text(at), text, "the declaration")


def _detection(first_alert: FirstAlert | None, report: FirstReport) -> str:
    """One sentence putting the first alert's fired time against the first human report."""
    if first_alert is None:
        return "No monitor alert is attached to this incident: people found it first."
    gap = elapsed(first_alert.at, report.at)
    if abs(gap) < 1:
        return (
            "The first alert fired at the same time as the first human report "
            f"({first_alert.delivery})."
        )
    if gap > 0:
        return (
            f"The first alert fired {format_duration(gap)} before the first human report "
            f"({first_alert.delivery})."
        )
    return (
        f"The first human report came {format_duration(-gap)} before the first alert fired "
        f"({first_alert.delivery})."
    )


def _pages(pages: Iterable[Page], alerts: Sequence[Alert]) -> tuple[PageRow, ...]:
    """Every page sent for the incident's alerts, in the order sent, with its answer."""
    by_id = {a.id: a for a in alerts}
    rows = []
    for page in sorted(pages, key=lambda p: (p.sent_at, p.id or 0)):
        alert = by_id.get(page.alert_id)
        if alert is None:
            continue
        got = answer(page, alert)
        after = format_duration(got.after_seconds) if got.after_seconds is not None else None
        rows.append(
            PageRow(
                at=page.sent_at,
                when=utc_text(page.sent_at),
                level=page.level,
                target=page.target_name,
                kind=page.target.value,
                alert=alert.title,
                answered=got.answered,
                by=got.by,
                after=after,
            )
        )
    return tuple(rows)


def _ends_at(
    incident: Incident,
    shown: Sequence[TimelineEntry],
    alerts: Sequence[Alert],
    pages: Sequence[PageRow],
) -> datetime:
    """The latest moment the record knows: closing, else its latest entry, alert or page."""
    if incident.closed_at is not None:
        return incident.closed_at
    moments = [incident.declared_at, *(e.event_at for e in shown), *(p.at for p in pages)]
    moments += [a.resolved_at or a.last_seen_at for a in alerts]
    return max(moments, key=lambda m: m.astimezone(UTC))


def _phases(
    incident: Incident, shown: Sequence[TimelineEntry], ends: datetime
) -> tuple[Phase, ...]:
    """The status stretches, from the status entries; impact before declaring comes first."""
    phases: list[Phase] = []
    if incident.started_at < incident.declared_at:
        phases.append(Phase("undeclared", incident.started_at, incident.declared_at))
    status, since = Status.INVESTIGATING.value, incident.declared_at
    for e in shown:
        match = _STATUS_MOVE.match(e.text) if e.kind is EntryKind.STATUS else None
        if match is None or e.event_at < incident.declared_at:
            continue
        if e.event_at > since:
            phases.append(Phase(status, since, e.event_at))
        status, since = match[2], e.event_at
    if status != Status.CLOSED.value and ends > since:
        phases.append(Phase(status, since, ends))
    return tuple(phases)


def _measure(name: str, attr: str, incident: Incident) -> Measure:
    at: datetime | None = getattr(incident, attr)
    milestone = attr.removesuffix("_at")
    if at is None:
        return Measure(name, milestone, NOT_YET, None, NOT_YET)
    seconds = elapsed(incident.started_at, at)
    return Measure(name, milestone, utc_text(at), seconds, format_duration(seconds))


def _action(a: ActionItem) -> ActionRow:
    owner = a.owner.name if a.owner else None
    due = a.due.isoformat() if a.due else None
    done = _maybe(a.done_at) if a.status is ActionStatus.DONE else None
    return ActionRow(a.seq, a.text, a.kind.value, owner, due, a.status.value, done)


def _alert(a: Alert) -> AlertRow:
    if a.acknowledged_by is not None:
        by: str | None = a.acknowledged_by.name
    else:  # acknowledged through the monitor's own API (Events v2 "acknowledge")
        by = a.source.value if a.acknowledged_at else None
    duration = elapsed(a.started_at, a.resolved_at) if a.resolved_at else None
    return AlertRow(
        source=a.source.value,
        monitor=a.monitor,
        title=a.title,
        state="notice" if a.notice else a.state.value,
        started=utc_text(a.started_at),
        received=utc_text(a.received_at),
        acknowledged_by=by,
        acknowledged=_maybe(a.acknowledged_at),
        resolved=_maybe(a.resolved_at),
        duration=format_duration(duration) if duration is not None else None,
        count=a.count,
        link=a.link,
        notice=a.notice,
        fired_at=a.started_at,
        resolved_at=a.resolved_at,
    )


def _unique(links: Iterable[str | None]) -> tuple[str, ...]:
    """Links in first-seen order, each once."""
    return tuple(dict.fromkeys(link.strip() for link in links if link and link.strip()))

"""Rules that change an incident: status moves and their milestones, severity, roles.

Milestones are stored, never derived from "updated at":
- `detected_at` and `acknowledged_at` follow the rules in `milestones.py` (alerts, reports,
  the declaration, or a person's correction); `mitigated_at` records the *first* move to
  monitoring (or resolving) unless a person set it;
- `resolved_at` and `closed_at` describe the current state: moving back to an open status
  clears them (and a hand-set resolution with them), so a reopened incident's resolution is
  when it was finally resolved. The timeline keeps every move either way.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.errors import ConflictError, ValidationError
from bot.core.model import Incident, IncidentRole, Person, RoleAssignment, Severity, Status

MAX_TITLE = 200
TIME_SKEW_ALLOWED_SECONDS = 60


def new_incident(
    *,
    guild_id: int,
    title: str,
    severity: Severity,
    declared_by: Person,
    commander: Person,
    declared_at: datetime,
    started_at: datetime | None = None,
    summary: str = "",
) -> Incident:
    """A freshly declared incident, investigating, with its commander in command."""
    title = " ".join(title.split())
    if not title:
        raise ValidationError("An incident needs a title.")
    if len(title) > MAX_TITLE:
        raise ValidationError(f"The title is {len(title)} characters; keep it under {MAX_TITLE}.")
    started = started_at or declared_at
    if (started - declared_at).total_seconds() > TIME_SKEW_ALLOWED_SECONDS:
        raise ValidationError("The start of impact cannot be in the future.")
    started = min(started, declared_at)
    return Incident(
        guild_id=guild_id,
        number=0,
        title=title,
        severity=severity,
        status=Status.INVESTIGATING,
        declared_by=declared_by,
        started_at=started,
        detected_at=declared_at,
        declared_at=declared_at,
        acknowledged_at=declared_at,
        summary=summary.strip(),
        roles=[RoleAssignment(IncidentRole.COMMANDER, commander, declared_at)],
    )


def change_status(incident: Incident, new: Status, at: datetime) -> Status:
    """Move to `new` (forward, skipping ahead, or back) and keep the milestones true."""
    old = incident.status
    if new is old:
        raise ConflictError(f"Incident {incident.label} is already {new.value}.")
    incident.status = new
    if new is Status.MONITORING and incident.mitigated_at is None:
        incident.mitigated_at = at
    if new.rank >= Status.RESOLVED.rank:
        if incident.mitigated_at is None:
            incident.mitigated_at = at  # resolving implies the impact was mitigated
        if old.rank < Status.RESOLVED.rank or incident.resolved_at is None:
            incident.resolved_at = at
    else:
        incident.resolved_at = None
        incident.by_hand.discard("resolved")  # the reopened incident is not resolved at all
    incident.closed_at = at if new is Status.CLOSED else None
    return old


def ensure_not_closed(incident: Incident) -> None:
    """Closed incidents keep their record; only a status change may reopen them."""
    if incident.status is Status.CLOSED:
        raise ConflictError(
            f"Incident {incident.label} is closed; reopen it with /incident status first."
        )


def change_severity(incident: Incident, new: Severity) -> Severity:
    """Raise or lower the severity; returns the old one for the timeline."""
    ensure_not_closed(incident)
    old = incident.severity
    if new is old:
        raise ConflictError(f"Incident {incident.label} is already {new.value}.")
    incident.severity = new
    return old


def hand_over(incident: Incident, to: Person, at: datetime) -> Person | None:
    """Make `to` the one commander, ending the previous command; returns who had it."""
    ensure_not_closed(incident)
    current = _active(incident, IncidentRole.COMMANDER)
    if current and current[0].person.id == to.id:
        raise ConflictError(f"{to.name} is already the incident commander.")
    for assignment in current:
        assignment.ended_at = at
    incident.roles.append(RoleAssignment(IncidentRole.COMMANDER, to, at))
    if incident.acknowledged_at is None:
        incident.acknowledged_at = at
    return current[0].person if current else None


def assign_role(incident: Incident, person: Person, role: IncidentRole, at: datetime) -> None:
    """Give `person` a supporting role; several people may share one, one person many."""
    ensure_not_closed(incident)
    if role is IncidentRole.COMMANDER:
        raise ValidationError("Use /incident commander to hand over command.")
    if any(a.person.id == person.id for a in _active(incident, role)):
        raise ConflictError(f"{person.name} already has the {role.value} role.")
    incident.roles.append(RoleAssignment(role, person, at))


def unassign_role(incident: Incident, person: Person, role: IncidentRole, at: datetime) -> None:
    """Take a supporting role away; the assignment stays in the history."""
    ensure_not_closed(incident)
    if role is IncidentRole.COMMANDER:
        raise ValidationError(
            "An incident always has a commander: hand over with /incident commander."
        )
    held = [a for a in _active(incident, role) if a.person.id == person.id]
    if not held:
        raise ConflictError(f"{person.name} does not have the {role.value} role.")
    for assignment in held:
        assignment.ended_at = at


def _active(incident: Incident, role: IncidentRole) -> list[RoleAssignment]:
    return [a for a in incident.roles if a.active and a.role is role]

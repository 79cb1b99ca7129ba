"""Incident lifecycle rules: status moves and milestones, severity, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core import lifecycle
from bot.core.errors import ConflictError, ValidationError
from bot.core.model import IncidentRole, Person, Severity, Status

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL = Person(1, "alice"), Person(2, "bob"), Person(3, "carol")


def incident(status: Status = Status.INVESTIGATING):
    """A sev2 incident declared at T0 by alice, moved to `status` at T0 + 1 min if needed."""
    inc = lifecycle.new_incident(
        guild_id=10,
        title="  Database   down ",
        severity=Severity.SEV2,
        declared_by=ALICE,
        commander=ALICE,
        declared_at=T0,
    )
    if status is not Status.INVESTIGATING:
        lifecycle.change_status(inc, status, T0 + timedelta(minutes=1))
    return inc


def test_declare_sets_first_milestones_and_commander():
    """A declared incident is investigating, commanded, detected/declared/acknowledged now."""
    inc = incident()
    assert inc.title == "Database down"
    assert inc.status is Status.INVESTIGATING
    assert inc.commander == ALICE
    assert inc.started_at == inc.detected_at == inc.declared_at == inc.acknowledged_at == T0
    assert inc.mitigated_at is inc.resolved_at is inc.closed_at is None


def test_declare_backdated_start_is_kept_and_future_start_refused():
    """Impact may begin before the declaration, never after it."""
    early = T0 - timedelta(hours=2)
    inc = lifecycle.new_incident(
        guild_id=1,
        title="x",
        severity=Severity.SEV1,
        declared_by=ALICE,
        commander=BOB,
        declared_at=T0,
        started_at=early,
    )
    assert inc.started_at == early and inc.commander == BOB
    with pytest.raises(ValidationError, match="future"):
        lifecycle.new_incident(
            guild_id=1,
            title="x",
            severity=Severity.SEV1,
            declared_by=ALICE,
            commander=ALICE,
            declared_at=T0,
            started_at=T0 + timedelta(hours=1),
        )


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_declare_refuses_empty_or_overlong_titles(title):
    """Titles must say something and fit a Discord channel topic and card."""
    with pytest.raises(ValidationError):
        lifecycle.new_incident(
            guild_id=1,
            title=title,
            severity=Severity.SEV1,
            declared_by=ALICE,
            commander=ALICE,
            declared_at=T0,
        )


AT = T0 + timedelta(minutes=10)

# (from, to, expected mitigated set?, resolved set?, closed set?)
TRANSITIONS = [
    (Status.INVESTIGATING, Status.IDENTIFIED, False, False, False),
    (Status.INVESTIGATING, Status.MONITORING, True, False, False),
    (Status.INVESTIGATING, Status.RESOLVED, True, True, False),
    (Status.INVESTIGATING, Status.CLOSED, True, True, True),
    (Status.IDENTIFIED, Status.MONITORING, True, False, False),
    (Status.IDENTIFIED, Status.INVESTIGATING, False, False, False),
    (Status.MONITORING, Status.RESOLVED, True, True, False),
    (Status.MONITORING, Status.IDENTIFIED, True, False, False),
    (Status.RESOLVED, Status.CLOSED, True, True, True),
    (Status.RESOLVED, Status.MONITORING, True, False, False),
    (Status.RESOLVED, Status.INVESTIGATING, True, False, False),
    (Status.CLOSED, Status.RESOLVED, True, True, False),
    (Status.CLOSED, Status.INVESTIGATING, True, False, False),
]


@pytest.mark.parametrize(("old", "new", "mitigated", "resolved", "closed"), TRANSITIONS)
def test_status_transition_table(old, new, mitigated, resolved, closed):
    """Every move is allowed forward and back, and leaves the milestones consistent."""
    inc = incident(old)
    assert lifecycle.change_status(inc, new, AT) is old
    assert inc.status is new
    assert (inc.mitigated_at is not None) is mitigated
    assert (inc.resolved_at is not None) is resolved
    assert (inc.closed_at is not None) is closed


@pytest.mark.parametrize("status", list(Status))
def test_same_status_again_is_refused(status):
    """Setting the status it already has is a mistake worth telling the user about."""
    inc = incident(status)
    with pytest.raises(ConflictError, match=f"already {status.value}"):
        lifecycle.change_status(inc, status, AT)


def test_mitigated_is_first_entry_to_monitoring_and_never_moves():
    """A second visit to monitoring keeps the first mitigation time."""
    inc = incident()
    lifecycle.change_status(inc, Status.MONITORING, T0 + timedelta(minutes=5))
    lifecycle.change_status(inc, Status.INVESTIGATING, T0 + timedelta(minutes=6))
    lifecycle.change_status(inc, Status.MONITORING, T0 + timedelta(minutes=9))
    assert inc.mitigated_at == T0 + timedelta(minutes=5)


def test_reopened_incident_resolves_at_its_final_resolution():
    """Resolved, reopened, resolved again: resolved_at is the last resolution."""
    inc = incident()
    lifecycle.change_status(inc, Status.RESOLVED, T0 + timedelta(minutes=5))
    lifecycle.change_status(inc, Status.INVESTIGATING, T0 + timedelta(minutes=6))
    assert inc.resolved_at is None
    lifecycle.change_status(inc, Status.RESOLVED, T0 + timedelta(minutes=30))
    lifecycle.change_status(inc, Status.CLOSED, T0 + timedelta(minutes=40))
    assert inc.resolved_at == T0 + timedelta(minutes=30)
    assert inc.closed_at == T0 + timedelta(minutes=40)


def test_severity_change_returns_old_and_refuses_same_or_closed():
    """Severity moves both ways; not to itself, and not on a closed incident."""
    inc = incident()
    assert lifecycle.change_severity(inc, Severity.SEV1) is Severity.SEV2
    with pytest.raises(ConflictError):
        lifecycle.change_severity(inc, Severity.SEV1)
    closed = incident(Status.CLOSED)
    with pytest.raises(ConflictError, match="closed"):
        lifecycle.change_severity(closed, Severity.SEV4)


def test_hand_over_keeps_exactly_one_commander_with_history():
    """Handing over ends the old command and starts the new one at the same instant."""
    inc = incident()
    assert lifecycle.hand_over(inc, BOB, AT) == ALICE
    assert inc.commander == BOB
    actives = [a for a in inc.roles if a.active and a.role is IncidentRole.COMMANDER]
    assert len(actives) == 1
    ended = [a for a in inc.roles if not a.active]
    assert [(a.person, a.assigned_at, a.ended_at) for a in ended] == [(ALICE, T0, AT)]
    with pytest.raises(ConflictError, match="already the incident commander"):
        lifecycle.hand_over(inc, BOB, AT)


def test_supporting_roles_are_shared_and_removable():
    """Several people may be ops; one person may hold several roles; removal keeps history."""
    inc = incident()
    lifecycle.assign_role(inc, BOB, IncidentRole.OPS, AT)
    lifecycle.assign_role(inc, CAROL, IncidentRole.OPS, AT)
    lifecycle.assign_role(inc, BOB, IncidentRole.SCRIBE, AT)
    assert inc.holders(IncidentRole.OPS) == [BOB, CAROL]
    with pytest.raises(ConflictError, match="already has"):
        lifecycle.assign_role(inc, BOB, IncidentRole.OPS, AT)
    lifecycle.unassign_role(inc, BOB, IncidentRole.OPS, AT)
    assert inc.holders(IncidentRole.OPS) == [CAROL]
    assert inc.holders(IncidentRole.SCRIBE) == [BOB]
    assert len(inc.roles) == 4  # the ended assignment is still there
    with pytest.raises(ConflictError, match="does not have"):
        lifecycle.unassign_role(inc, BOB, IncidentRole.OPS, AT)


def test_commander_role_only_through_hand_over():
    """The commander role is never given or taken with role/unrole."""
    inc = incident()
    with pytest.raises(ValidationError, match="/incident commander"):
        lifecycle.assign_role(inc, BOB, IncidentRole.COMMANDER, AT)
    with pytest.raises(ValidationError, match="/incident commander"):
        lifecycle.unassign_role(inc, ALICE, IncidentRole.COMMANDER, AT)


def test_reopening_drops_a_hand_set_resolution():
    """Moving back to an open status clears `resolved_at`, even one a person set."""
    inc = incident()
    lifecycle.change_status(inc, Status.RESOLVED, T0 + timedelta(minutes=5))
    inc.by_hand.add("resolved")
    lifecycle.change_status(inc, Status.INVESTIGATING, T0 + timedelta(minutes=6))
    assert inc.resolved_at is None and "resolved" not in inc.by_hand

"""Incidents of very different lengths, as postmortem data, for the picture's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.alerts import Alert, AlertSource, AlertState
from bot.core.model import (
    EntryKind,
    EntrySource,
    Incident,
    IncidentRole,
    Person,
    RoleAssignment,
    Severity,
    Status,
    TimelineEntry,
)
from bot.core.pages import Page, PageTarget
from bot.core.postmortem import PostmortemData, build_postmortem

ALICE = Person(1, "alice")
T0 = datetime(2026, 3, 27, 22, 0, tzinfo=UTC)  # the weekend Europe moves its clocks


def incident_over(length: timedelta, *, alerts: int = 2, pages: int = 3) -> PostmortemData:
    """A closed incident lasting `length`, with status moves, alerts, a notice and pages."""
    step = length / 10
    declared = T0 + step
    incident = Incident(
        guild_id=1,
        number=42,
        title="Checkout fails for EU customers",
        severity=Severity.SEV1,
        status=Status.CLOSED,
        declared_by=ALICE,
        started_at=T0,
        detected_at=T0 + step / 2,
        declared_at=declared,
        acknowledged_at=declared,
        mitigated_at=T0 + step * 6,
        resolved_at=T0 + step * 8,
        closed_at=T0 + length,
        roles=[RoleAssignment(IncidentRole.COMMANDER, ALICE, declared)],
        id=1,
    )
    moves = [("investigating", "identified", 3), ("identified", "monitoring", 6)]
    moves += [("monitoring", "resolved", 8), ("resolved", "closed", 10)]
    entries = [
        TimelineEntry(
            1,
            EntryKind.STATUS,
            EntrySource.COMMAND,
            f"Status {a} → {b}",
            T0 + step * n,
            T0 + step * n,
            ALICE,
            seq=n,
        )
        for a, b, n in moves
    ]
    found = []
    for n in range(alerts):
        fired = T0 + step * (0.5 + n)
        found.append(
            Alert(
                guild_id=1,
                source=AlertSource.ALERTMANAGER,
                stream_key=f"fp{n}",
                episode_key=None,
                monitor=f"checkout-{n}",
                title=f"HighErrorRate {n}",
                state=AlertState.RESOLVED,
                started_at=fired,
                received_at=fired + step / 20,
                last_seen_at=fired,
                resolved_at=T0 + step * (7 + n / 2),
                acknowledged_at=declared if n == 0 else None,
                acknowledged_by=ALICE if n == 0 else None,
                id=n + 1,
            )
        )
    found.append(
        Alert(
            guild_id=1,
            source=AlertSource.UPTIMEROBOT,
            stream_key="9:expiry",
            episode_key=None,
            monitor="shop",
            title="SSL expires in 7 days",
            state=AlertState.FIRING,
            started_at=T0 + step * 4,
            received_at=T0 + step * 4,
            last_seen_at=T0 + step * 4,
            notice=True,
            id=99,
        )
    )
    sent = [
        Page(1, 1 + n % 2, n + 1, PageTarget.ROLE, 5, "on-call role", T0 + step * (0.7 + n / 4))
        for n in range(pages)
    ]
    return build_postmortem(
        incident, entries=entries, alerts=found, actions=[], notes=[], pages=sent
    )

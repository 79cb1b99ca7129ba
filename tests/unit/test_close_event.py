"""Closing an incident records one INCIDENT_CLOSED event (the postmortem draft's trigger)."""

from __future__ import annotations

import pytest

from bot.core.errors import ConflictError, PermissionDeniedError
from bot.core.events import Event, Topic
from bot.core.model import Severity, Status
from bot.core.services import IncidentRef
from tests.fakes import FakeUnitOfWork
from tests.unit.conftest import GUILD


def closed_events(db) -> list[Event]:
    """INCIDENT_CLOSED events in the outbox."""
    return [e for e in db.events() if e.topic is Topic.INCIDENT_CLOSED]


async def test_closing_records_exactly_one_event_with_the_change(services, db, responder):
    """Moves before close record none; close records one, between its entry and the cards."""
    inc = await services.incidents.declare(
        GUILD, responder, title="API down", severity=Severity.SEV2
    )
    ref = IncidentRef(inc.number)
    for status in (Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED):
        await services.incidents.set_status(GUILD, responder, ref, status)
    assert closed_events(db) == []
    before = len(db.events())
    await services.incidents.close(GUILD, responder, ref)
    entries = await services.timeline.show(GUILD, ref)
    assert db.events()[before:] == [
        Event(Topic.ENTRY_ADDED, GUILD, entries[-1].id),
        Event(Topic.INCIDENT_CLOSED, GUILD, inc.id),
        Event(Topic.INCIDENT_CHANGED, GUILD, inc.id),
    ]
    with pytest.raises(ConflictError):
        await services.incidents.close(GUILD, responder, ref)
    assert closed_events(db) == [Event(Topic.INCIDENT_CLOSED, GUILD, inc.id)]


async def test_refused_or_failed_closes_record_nothing(
    services, db, responder, watcher, monkeypatch: pytest.MonkeyPatch
):
    """A watcher's close, and a close whose commit fails, leave neither status nor event."""
    inc = await services.incidents.declare(
        GUILD, responder, title="API down", severity=Severity.SEV2
    )
    ref = IncidentRef(inc.number)
    with pytest.raises(PermissionDeniedError):
        await services.incidents.close(GUILD, watcher, ref)

    async def broken_commit(self) -> None:
        raise OSError("the database went away")

    monkeypatch.setattr(FakeUnitOfWork, "commit", broken_commit)
    with pytest.raises(OSError):
        await services.incidents.close(GUILD, responder, ref)
    monkeypatch.undo()
    assert closed_events(db) == []
    assert (await services.incidents.get(GUILD, ref)).status is Status.INVESTIGATING


async def test_reopen_and_close_again_records_a_second_event(services, db, responder):
    """Each close is its own event (a new draft); the reopen in between records none."""
    inc = await services.incidents.declare(
        GUILD, responder, title="API down", severity=Severity.SEV2
    )
    ref = IncidentRef(inc.number)
    await services.incidents.close(GUILD, responder, ref)
    await services.incidents.set_status(GUILD, responder, ref, Status.MONITORING)
    assert len(closed_events(db)) == 1
    await services.incidents.close(GUILD, responder, ref)
    assert closed_events(db) == [Event(Topic.INCIDENT_CLOSED, GUILD, inc.id)] * 2

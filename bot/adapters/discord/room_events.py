"""Incident events in Discord: the rooms kept current, timeline entries in the thread.

The notifier delivers these topics in order per guild; this is what each one does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import discord

from bot.adapters.discord import rendering
from bot.adapters.discord.rooms import IncidentRooms
from bot.core.events import StoredEvent, Topic
from bot.core.model import Incident, TimelineEntry
from bot.core.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()


def nonce(event_id: int, part: int = 0) -> str:
    """A message nonce unique to one part of one event (Discord allows 25 characters)."""
    return f"ev{event_id}.{part}"


Handler = Callable[[StoredEvent], Awaitable[None]]


class Registry(Protocol):
    """Where handlers are registered (the notifier)."""

    def register(self, topic: Topic, handler: Handler, *, deferred: bool = False) -> None: ...


class RoomEvents:
    """Handlers of INCIDENT_CHANGED, ENTRY_ADDED and ENTRY_CHANGED."""

    def __init__(self, rooms: IncidentRooms, uow_factory: UnitOfWorkFactory) -> None:
        self.rooms = rooms
        self._uow_factory = uow_factory

    def register(self, registry: Registry) -> None:
        """Deliver the incident topics through these handlers."""
        registry.register(Topic.INCIDENT_CHANGED, self.incident_changed)
        registry.register(Topic.ENTRY_ADDED, self.entry_added)
        registry.register(Topic.ENTRY_CHANGED, self.entry_changed)

    async def _incident(self, incident_id: int) -> Incident | None:
        async with self._uow_factory().reading() as uow:
            return await uow.incidents.get_by_id(incident_id)

    async def _entry(self, entry_id: int) -> tuple[TimelineEntry, Incident] | None:
        async with self._uow_factory().reading() as uow:
            entry = await uow.timeline.get_by_id(entry_id)
            incident = await uow.incidents.get_by_id(entry.incident_id) if entry else None
        return (entry, incident) if entry and incident else None

    async def incident_changed(self, stored: StoredEvent) -> None:
        """Make the rooms if missing, edit both cards, lock or unlock the working channel."""
        incident = await self._incident(stored.event.subject_id)
        if incident is None:
            log.warning("incident %s of event %s is gone", stored.event.subject_id, stored.id)
            return
        await self.rooms.refresh(incident.guild_id, incident.number)

    async def entry_added(self, stored: StoredEvent) -> None:
        """Post the new entry in the incident's operating-room thread."""
        found = await self._entry(stored.event.subject_id)
        if found is None or found[0].deleted:
            return
        entry, incident = found
        await self._post(stored, incident, rendering.entry_posts(entry))

    async def entry_changed(self, stored: StoredEvent) -> None:
        """Tell the thread that an entry was edited or deleted (the audit trail keeps both)."""
        found = await self._entry(stored.event.subject_id)
        if found is None:
            return
        entry, incident = found
        await self._post(stored, incident, [rendering.entry_changed_line(entry)])

    async def _post(self, stored: StoredEvent, incident: Incident, texts: list[str]) -> None:
        thread = await self.rooms.thread(incident.guild_id, incident.number)
        if thread is None:
            log.debug(
                "%s has no operating-room thread; event %s not posted", incident.label, stored.id
            )
            return
        for part, text in enumerate(texts):
            await thread.send(text, nonce=nonce(stored.id, part), allowed_mentions=NONE)

"""What every use case shares: finding the incident meant, checking the actor, recording."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core import milestones
from bot.core.errors import NotFoundError, ValidationError
from bot.core.events import Event, Topic
from bot.core.milestones import MilestoneChange
from bot.core.model import (
    EntryKind,
    EntrySource,
    GuildConfig,
    Incident,
    Member,
    Person,
    TimelineEntry,
)
from bot.core.permissions import ensure_can_change
from bot.core.ports import Clock, UnitOfWork, UnitOfWorkFactory

MAX_TEXT = 4000
log = logging.getLogger("bot.incidents")


@dataclass(frozen=True)
class IncidentRef:
    """Which incident a command means: a number, else the channel or thread it was used in."""

    number: int | None = None
    channel_id: int | None = None


@dataclass
class Edit:
    """An open change to one incident: its unit of work, the guild's config and "now"."""

    uow: UnitOfWork
    incident: Incident
    config: GuildConfig
    now: datetime
    actor: Person | None = None

    said: list[str] = field(default_factory=list)

    async def record(
        self, kind: EntryKind, text: str, author: Person | None, **extra: Any
    ) -> TimelineEntry:
        """A timeline entry for something that happens now, as part of this change."""
        self.said.append(text)
        return await record(
            self.uow,
            self.incident,
            kind=kind,
            text=text,
            at=self.now,
            now=self.now,
            author=author,
            **extra,
        )


def clean_text(text: str, what: str = "The text") -> str:
    """Trimmed text within what Discord and exports handle well, or a readable refusal."""
    text = text.strip()
    if not text:
        raise ValidationError(f"{what} is empty.")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"{what} is {len(text)} characters; keep it under {MAX_TEXT}.")
    return text


async def find_incident(uow: UnitOfWork, guild_id: int, ref: IncidentRef) -> Incident:
    """The incident `ref` names, or a NotFoundError saying how to name one."""
    if ref.number is not None:
        incident = await uow.incidents.get(guild_id, ref.number)
        if incident is None:
            raise NotFoundError(f"There is no incident #{ref.number} in this server.")
        return incident
    if ref.channel_id is not None:
        incident = await uow.incidents.by_channel(guild_id, ref.channel_id)
        if incident is not None:
            return incident
    raise NotFoundError(
        "Which incident? Name it with the incident option, or use the command in its channel."
    )


async def record(
    uow: UnitOfWork,
    incident: Incident,
    *,
    kind: EntryKind,
    text: str,
    at: datetime,
    now: datetime,
    author: Person | None,
    source: EntrySource = EntrySource.COMMAND,
    **extra: object,
) -> TimelineEntry:
    """Add a timeline entry and queue it for the operating-room thread."""
    assert incident.id is not None
    entry = TimelineEntry(
        incident_id=incident.id,
        kind=kind,
        source=source,
        text=text,
        event_at=at,
        recorded_at=now,
        author=author,
        **extra,  # type: ignore[arg-type]
    )
    await uow.timeline.add(entry)
    assert entry.id is not None
    await uow.outbox.add(Event(Topic.ENTRY_ADDED, incident.guild_id, entry.id))
    return entry


async def record_milestones(
    uow: UnitOfWork,
    incident: Incident,
    changes: Sequence[MilestoneChange],
    actor: Person | None,
    now: datetime,
) -> None:
    """Put each milestone change on the timeline: from what to what, and who caused it."""
    for change in changes:
        await record(
            uow,
            incident,
            kind=EntryKind.MILESTONE,
            text=milestones.describe(change, actor.name if actor else None),
            at=now,
            now=now,
            author=actor,
            source=EntrySource.COMMAND if change.by_hand else EntrySource.SYSTEM,
        )


async def infer_milestones(
    uow: UnitOfWork, incident: Incident, actor: Person | None, now: datetime
) -> bool:
    """Recompute the inferred milestones from all the incident holds; True if any moved."""
    assert incident.id is not None
    changes = milestones.infer(
        incident,
        entries=await uow.timeline.list(incident.id),
        alerts=await uow.alerts.for_incident(incident.id),
    )
    await record_milestones(uow, incident, changes, actor, now)
    return bool(changes)


async def incident_changed(uow: UnitOfWork, incident: Incident) -> None:
    """Save the incident and queue its cards for re-rendering."""
    assert incident.id is not None
    await uow.incidents.save(incident)
    await uow.outbox.add(Event(Topic.INCIDENT_CHANGED, incident.guild_id, incident.id))


def log_change(incident: Incident, actor: Person, said: list[str]) -> None:
    """One INFO line per committed incident change, with guild and incident as fields."""
    what = "; ".join(" ".join(text.split())[:200] for text in said) or "changed"
    log.info(
        "%s by %s: %s",
        incident.label,
        actor.name,
        what,
        extra={"guild": incident.guild_id, "incident": incident.number},
    )


class Service:
    """A use-case group over units of work and a clock."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def _reading(self) -> UnitOfWork:
        """A unit of work for a pure lookup: it never takes the write lock."""
        return self._uow_factory().reading()

    async def _config(self, uow: UnitOfWork, guild_id: int) -> GuildConfig:
        """The guild's stored configuration, or defaults for one not set up yet."""
        return await uow.guilds.get(guild_id) or GuildConfig(guild_id=guild_id)

    @asynccontextmanager
    async def _editing(
        self, guild_id: int, actor: Member, ref: IncidentRef, *, save: bool = True
    ) -> AsyncIterator[Edit]:
        """Open a permitted change to one incident; saves (unless told not to) and commits."""
        async with self._uow_factory() as uow:
            config = await uow.guilds.get(guild_id)
            ensure_can_change(actor, config)
            incident = await find_incident(uow, guild_id, ref)
            edit = Edit(
                uow, incident, config or GuildConfig(guild_id), self._clock.now(), actor.person
            )
            yield edit
            if save:
                await incident_changed(uow, incident)
            await uow.commit()
        log_change(incident, actor.person, edit.said)

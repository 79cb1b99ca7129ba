"""Timeline, action-item and postmortem-note use cases: what the team writes down."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.core.errors import NotFoundError, ValidationError
from bot.core.events import Event, Topic
from bot.core.model import (
    WRITTEN_KINDS,
    ActionItem,
    ActionKind,
    ActionStatus,
    EntryKind,
    EntrySource,
    Member,
    Person,
    PostmortemNote,
    PostmortemSection,
    RevisionAction,
    TimelineEntry,
    TimelineRevision,
)
from bot.core.ports import UnitOfWork
from bot.core.postmortem import PostmortemData, build_postmortem
from bot.core.services import reminders
from bot.core.services._base import (
    Edit,
    IncidentRef,
    Service,
    clean_text,
    find_incident,
    incident_changed,
    infer_milestones,
    record,
)
from bot.core.timeparse import parse_at


@dataclass(frozen=True)
class ChatMessage:
    """A Discord message turned into a timeline entry by the context menu."""

    id: int
    channel_id: int
    author: Person
    text: str
    sent_at: datetime
    jump_url: str


class TimelineService(Service):
    """Entries people add, edit and delete; every change keeps an audit record."""

    async def add(
        self,
        guild_id: int,
        actor: Member,
        ref: IncidentRef,
        text: str,
        at: str | None = None,
        kind: EntryKind = EntryKind.NOTE,
    ) -> TimelineEntry:
        """An entry at `at` (default now), in the guild's timezone when no offset is given."""
        kind = written_kind(kind)
        async with self._editing(guild_id, actor, ref, save=False) as e:
            event_at = parse_at(at, now=e.now, tz=e.config.tz) if at else e.now
            entry = await record(
                e.uow,
                e.incident,
                kind=kind,
                text=clean_text(text),
                at=event_at,
                now=e.now,
                author=actor.person,
            )
            await self._reinfer(e, {kind})
            return entry

    async def add_message(
        self, guild_id: int, actor: Member, message: ChatMessage
    ) -> tuple[TimelineEntry, bool]:
        """The message as an entry with its own time, author and link; twice adds it once."""
        ref = IncidentRef(channel_id=message.channel_id)
        async with self._editing(guild_id, actor, ref, save=False) as e:
            assert e.incident.id is not None
            existing = await e.uow.timeline.by_message(e.incident.id, message.id)
            if existing is not None:
                return existing, False
            text = message.text.strip()[:4000] or "(a message without text: see the link)"
            entry = await record(
                e.uow,
                e.incident,
                kind=EntryKind.NOTE,
                source=EntrySource.MESSAGE,
                text=text,
                at=message.sent_at,
                now=e.now,
                author=message.author,
                jump_url=message.jump_url,
                message_id=message.id,
            )
            return entry, True

    async def show(
        self, guild_id: int, ref: IncidentRef, last: int | None = None
    ) -> list[TimelineEntry]:
        """The timeline in event order; anyone may read it."""
        async with self._reading() as uow:
            incident = await find_incident(uow, guild_id, ref)
            assert incident.id is not None
            return await uow.timeline.list(incident.id, last=last)

    async def edit(
        self,
        guild_id: int,
        actor: Member,
        ref: IncidentRef,
        seq: int,
        text: str | None = None,
        at: str | None = None,
        kind: EntryKind | None = None,
    ) -> TimelineEntry:
        """Change an entry's text, time or kind; the old version stays in the audit trail."""
        if text is None and at is None and kind is None:
            raise ValidationError("Nothing to change: give a new text, time or kind.")
        async with self._editing(guild_id, actor, ref, save=False) as e:
            entry = await self._entry(e.uow, e.incident.id, seq)
            old_kind = entry.kind
            revision = self._revision(entry, RevisionAction.EDIT, actor.person, e.now)
            if kind is not None:
                if not old_kind.written:
                    raise ValidationError(
                        f"Entry {seq} is a {old_kind.value} entry Opsroom wrote; "
                        "only people's entries change kind."
                    )
                entry.kind = written_kind(kind)
            if text is not None:
                entry.text = clean_text(text)
            if at:
                entry.event_at = parse_at(at, now=e.now, tz=e.config.tz)
            entry.edited_at = e.now
            await self._save(e.uow, guild_id, entry, revision)
            await self._reinfer(e, {old_kind, entry.kind})
            return entry

    async def delete(
        self, guild_id: int, actor: Member, ref: IncidentRef, seq: int
    ) -> TimelineEntry:
        """Hide an entry; it is kept, with who deleted it and when."""
        async with self._editing(guild_id, actor, ref, save=False) as e:
            entry = await self._entry(e.uow, e.incident.id, seq)
            revision = self._revision(entry, RevisionAction.DELETE, actor.person, e.now)
            entry.deleted_at = e.now
            await self._save(e.uow, guild_id, entry, revision)
            await self._reinfer(e, {entry.kind})
            return entry

    @staticmethod
    async def _reinfer(e: Edit, kinds: set[EntryKind]) -> None:
        """A report entry came, went or moved: detection may have moved with it."""
        if EntryKind.REPORT in kinds and await infer_milestones(e.uow, e.incident, e.actor, e.now):
            await incident_changed(e.uow, e.incident)

    @staticmethod
    async def _entry(uow: UnitOfWork, incident_id: int | None, seq: int) -> TimelineEntry:
        assert incident_id is not None
        entry = await uow.timeline.get(incident_id, seq)
        if entry is None or entry.deleted:
            raise NotFoundError(f"There is no timeline entry {seq} on this incident.")
        return entry

    @staticmethod
    def _revision(
        entry: TimelineEntry, action: RevisionAction, by: Person, now: datetime
    ) -> TimelineRevision:
        assert entry.id is not None
        return TimelineRevision(entry.id, action, now, by, entry.text, entry.event_at, entry.kind)

    @staticmethod
    async def _save(
        uow: UnitOfWork, guild_id: int, entry: TimelineEntry, revision: TimelineRevision
    ) -> None:
        await uow.timeline.save(entry, revision)
        assert entry.id is not None
        await uow.outbox.add(Event(Topic.ENTRY_CHANGED, guild_id, entry.id))


def written_kind(kind: EntryKind) -> EntryKind:
    """A kind people may give an entry (note, report, evidence, action, decision)."""
    if not kind.written:
        names = ", ".join(k.value for k in WRITTEN_KINDS)
        raise ValidationError(f"An entry's kind is one of {names}, not {kind.value}.")
    return kind


_DUE_RELATIVE = re.compile(r"^\+?(\d{1,3})\s*([dw])$")


def parse_due(text: str, today: date) -> date:
    """A due date: `YYYY-MM-DD`, or `+3d` / `2w` from today."""
    text = text.strip().lower()
    if match := _DUE_RELATIVE.match(text):
        amount, unit = int(match[1]), match[2]
        return today + timedelta(days=amount * (7 if unit == "w" else 1))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"Could not read due date {text[:40]!r}: use YYYY-MM-DD, +3d or +2w."
        ) from None


class ActionService(Service):
    """Follow-up items, during or after the incident."""

    async def add(
        self,
        guild_id: int,
        actor: Member,
        ref: IncidentRef,
        text: str,
        *,
        owner: Person | None = None,
        kind: ActionKind = ActionKind.REPAIR,
        due: str | None = None,
    ) -> ActionItem:
        """Record a follow-up with an owner, a kind and a due date."""
        async with self._editing(guild_id, actor, ref, save=False) as e:
            assert e.incident.id is not None
            due_date = parse_due(due, e.now.astimezone(e.config.tz).date()) if due else None
            action = ActionItem(
                incident_id=e.incident.id,
                text=clean_text(text, "The action"),
                kind=kind,
                created_at=e.now,
                created_by=actor.person,
                owner=owner,
                due=due_date,
            )
            await e.uow.actions.add(action)
            await reminders.action_added(e.uow, e.incident, action, e.config, e.now)
            return action

    async def done(self, guild_id: int, actor: Member, ref: IncidentRef, seq: int) -> ActionItem:
        """Mark a follow-up done (doing it twice is harmless)."""
        async with self._editing(guild_id, actor, ref, save=False) as e:
            assert e.incident.id is not None
            action = await e.uow.actions.get(e.incident.id, seq)
            if action is None:
                raise NotFoundError(f"There is no action item {seq} on this incident.")
            if action.status is not ActionStatus.DONE:
                action.status, action.done_at, action.done_by = (
                    ActionStatus.DONE,
                    e.now,
                    actor.person,
                )
                await e.uow.actions.save(action)
                await reminders.action_done(e.uow, action, e.now)
            return action

    async def list(self, guild_id: int, ref: IncidentRef) -> list[ActionItem]:
        """The incident's follow-ups in the order they were added."""
        async with self._reading() as uow:
            incident = await find_incident(uow, guild_id, ref)
            assert incident.id is not None
            return await uow.actions.list(incident.id)


class PostmortemService(Service):
    """Notes authors give for postmortem sections, and the draft's content (rendered outside)."""

    async def draft(self, guild_id: int, ref: IncidentRef) -> PostmortemData:
        """Everything the draft shows, read in one unit of work so it is consistent; anyone may."""
        async with self._reading() as uow:
            incident = await find_incident(uow, guild_id, ref)
            assert incident.id is not None
            alerts = await uow.alerts.for_incident(incident.id)
            return build_postmortem(
                incident,
                entries=await uow.timeline.list(incident.id),
                alerts=alerts,
                actions=await uow.actions.list(incident.id),
                notes=await uow.notes.list(incident.id),
                pages=await uow.pages.for_alerts([a.id for a in alerts if a.id is not None]),
            )

    async def add_note(
        self, guild_id: int, actor: Member, ref: IncidentRef, section: PostmortemSection, text: str
    ) -> PostmortemNote:
        """Append text to one section of the draft."""
        async with self._editing(guild_id, actor, ref, save=False) as e:
            assert e.incident.id is not None
            note = PostmortemNote(e.incident.id, section, clean_text(text), actor.person, e.now)
            await e.uow.notes.add(note)
            return note

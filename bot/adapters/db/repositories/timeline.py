"""Timeline entries with their audit trail, action items and postmortem notes."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import RowMapping, select

from bot.adapters.db.repositories._base import (
    SqlRepository,
    person_from,
    person_values,
    required_person,
)
from bot.adapters.db.tables import (
    action_items,
    postmortem_notes,
    timeline_entries,
    timeline_revisions,
)
from bot.core.model import (
    ActionItem,
    ActionKind,
    ActionStatus,
    EntryKind,
    EntrySource,
    PostmortemNote,
    PostmortemSection,
    RevisionAction,
    TimelineEntry,
    TimelineRevision,
)


def entry_values(entry: TimelineEntry) -> dict[str, Any]:
    """TimelineEntry → row (without id)."""
    return {
        "incident_id": entry.incident_id,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "source": entry.source.value,
        "text": entry.text,
        "event_at": entry.event_at,
        "recorded_at": entry.recorded_at,
        **person_values("author", entry.author),
        "jump_url": entry.jump_url,
        "message_id": entry.message_id,
        "alert_id": entry.alert_id,
        "edited_at": entry.edited_at,
        "deleted_at": entry.deleted_at,
    }


def entry_from_row(row: RowMapping) -> TimelineEntry:
    """Row → TimelineEntry."""
    return TimelineEntry(
        id=row["id"],
        incident_id=row["incident_id"],
        seq=row["seq"],
        kind=EntryKind(row["kind"]),
        source=EntrySource(row["source"]),
        text=row["text"],
        event_at=row["event_at"],
        recorded_at=row["recorded_at"],
        author=person_from(row, "author"),
        jump_url=row["jump_url"],
        message_id=row["message_id"],
        alert_id=row["alert_id"],
        edited_at=row["edited_at"],
        deleted_at=row["deleted_at"],
    )


def revision_values(revision: TimelineRevision) -> dict[str, Any]:
    """TimelineRevision → row (without id)."""
    return {
        "entry_id": revision.entry_id,
        "action": revision.action.value,
        "at": revision.at,
        **person_values("by", revision.by),
        "old_text": revision.old_text,
        "old_event_at": revision.old_event_at,
        "old_kind": revision.old_kind.value if revision.old_kind else None,
    }


def revision_from_row(row: RowMapping) -> TimelineRevision:
    """Row → TimelineRevision."""
    return TimelineRevision(
        id=row["id"],
        entry_id=row["entry_id"],
        action=RevisionAction(row["action"]),
        at=row["at"],
        by=required_person(row, "by"),
        old_text=row["old_text"],
        old_event_at=row["old_event_at"],
        old_kind=EntryKind(row["old_kind"]) if row["old_kind"] else None,
    )


class SqlTimelineRepository(SqlRepository):
    """Timeline entries, numbered per incident; edits and deletes keep revisions."""

    async def add(self, entry: TimelineEntry) -> None:
        """Store a new entry, setting `id` and the incident's next `seq` on it."""
        entry.seq = await self._next_number(f"timeline:{entry.incident_id}")
        entry.id = await self._insert_returning_id(timeline_entries, entry_values(entry))

    async def get(self, incident_id: int, seq: int) -> TimelineEntry | None:
        """The entry with this number in the incident, deleted or not."""
        return await self._one(
            (timeline_entries.c.incident_id == incident_id) & (timeline_entries.c.seq == seq)
        )

    async def get_by_id(self, entry_id: int) -> TimelineEntry | None:
        """The entry with this id."""
        return await self._one(timeline_entries.c.id == entry_id)

    async def by_message(self, incident_id: int, message_id: int) -> TimelineEntry | None:
        """The entry made from this Discord message, if any (adding one twice does nothing)."""
        return await self._one(
            (timeline_entries.c.incident_id == incident_id)
            & (timeline_entries.c.message_id == message_id)
        )

    async def list(
        self, incident_id: int, *, include_deleted: bool = False, last: int | None = None
    ) -> list[TimelineEntry]:
        """Entries in event order (ties by seq); `last` keeps only the latest N."""
        if last is not None and last <= 0:
            return []
        query = select(timeline_entries).where(timeline_entries.c.incident_id == incident_id)
        if not include_deleted:
            query = query.where(timeline_entries.c.deleted_at.is_(None))
        if last is None:
            query = query.order_by(timeline_entries.c.event_at, timeline_entries.c.seq)
        else:
            query = query.order_by(
                timeline_entries.c.event_at.desc(), timeline_entries.c.seq.desc()
            ).limit(last)
        entries = [entry_from_row(row) for row in (await self._execute(query)).mappings()]
        return entries if last is None else entries[::-1]

    async def save(self, entry: TimelineEntry, revision: TimelineRevision) -> None:
        """Write an edited or deleted entry together with its audit record."""
        await self._update_by_id(timeline_entries, entry.id, entry_values(entry), "timeline entry")
        revision.id = await self._insert_returning_id(timeline_revisions, revision_values(revision))

    async def revisions(self, entry_id: int) -> builtins.list[TimelineRevision]:
        """The entry's audit trail, oldest first."""
        query = (
            select(timeline_revisions)
            .where(timeline_revisions.c.entry_id == entry_id)
            .order_by(timeline_revisions.c.at, timeline_revisions.c.id)
        )
        return [revision_from_row(row) for row in (await self._execute(query)).mappings()]

    async def _one(self, condition: Any) -> TimelineEntry | None:
        """The single entry matching `condition`."""
        result = await self._execute(select(timeline_entries).where(condition))
        row = result.mappings().first()
        return entry_from_row(row) if row else None


def action_values(action: ActionItem) -> dict[str, Any]:
    """ActionItem → row (without id)."""
    return {
        "incident_id": action.incident_id,
        "seq": action.seq,
        "text": action.text,
        "kind": action.kind.value,
        "created_at": action.created_at,
        **person_values("created_by", action.created_by),
        **person_values("owner", action.owner),
        "due": action.due,
        "status": action.status.value,
        "done_at": action.done_at,
        **person_values("done_by", action.done_by),
    }


def action_from_row(row: RowMapping) -> ActionItem:
    """Row → ActionItem."""
    return ActionItem(
        id=row["id"],
        incident_id=row["incident_id"],
        seq=row["seq"],
        text=row["text"],
        kind=ActionKind(row["kind"]),
        created_at=row["created_at"],
        created_by=required_person(row, "created_by"),
        owner=person_from(row, "owner"),
        due=row["due"],
        status=ActionStatus(row["status"]),
        done_at=row["done_at"],
        done_by=person_from(row, "done_by"),
    )


class SqlActionRepository(SqlRepository):
    """Action items, numbered per incident."""

    async def add(self, action: ActionItem) -> None:
        """Store a new action item, setting `id` and the incident's next `seq` on it."""
        action.seq = await self._next_number(f"action:{action.incident_id}")
        action.id = await self._insert_returning_id(action_items, action_values(action))

    async def get(self, incident_id: int, seq: int) -> ActionItem | None:
        """The action item with this number in the incident."""
        query = select(action_items).where(
            (action_items.c.incident_id == incident_id) & (action_items.c.seq == seq)
        )
        row = (await self._execute(query)).mappings().first()
        return action_from_row(row) if row else None

    async def get_by_id(self, action_id: int) -> ActionItem | None:
        """The action item with this id, in any incident."""
        query = select(action_items).where(action_items.c.id == action_id)
        row = (await self._execute(query)).mappings().first()
        return action_from_row(row) if row else None

    async def list(self, incident_id: int) -> list[ActionItem]:
        """In seq order."""
        query = (
            select(action_items)
            .where(action_items.c.incident_id == incident_id)
            .order_by(action_items.c.seq)
        )
        return [action_from_row(row) for row in (await self._execute(query)).mappings()]

    async def save(self, action: ActionItem) -> None:
        """Write every field of an existing action item."""
        await self._update_by_id(action_items, action.id, action_values(action), "action item")


def note_values(note: PostmortemNote) -> dict[str, Any]:
    """PostmortemNote → row (without id)."""
    return {
        "incident_id": note.incident_id,
        "section": note.section.value,
        "text": note.text,
        **person_values("author", note.author),
        "added_at": note.added_at,
    }


def note_from_row(row: RowMapping) -> PostmortemNote:
    """Row → PostmortemNote."""
    return PostmortemNote(
        id=row["id"],
        incident_id=row["incident_id"],
        section=PostmortemSection(row["section"]),
        text=row["text"],
        author=required_person(row, "author"),
        added_at=row["added_at"],
    )


class SqlNoteRepository(SqlRepository):
    """Postmortem notes; several per section, kept in the order they were added."""

    async def add(self, note: PostmortemNote) -> None:
        """Store a note, setting its `id`."""
        note.id = await self._insert_returning_id(postmortem_notes, note_values(note))

    async def list(self, incident_id: int) -> list[PostmortemNote]:
        """In the order they were added."""
        query = (
            select(postmortem_notes)
            .where(postmortem_notes.c.incident_id == incident_id)
            .order_by(postmortem_notes.c.id)
        )
        return [note_from_row(row) for row in (await self._execute(query)).mappings()]

"""Pages: every escalation ping or pager message sent for an alert."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import RowMapping, select

from bot.adapters.db.repositories._base import SqlRepository
from bot.adapters.db.tables import pages
from bot.core.pages import Page, PageTarget

_CHUNK = 500  # alert ids per IN (…): well under every driver's bound-parameter limit


def page_values(page: Page) -> dict[str, Any]:
    """Page → row (without id)."""
    return {
        "guild_id": page.guild_id,
        "alert_id": page.alert_id,
        "level": page.level,
        "target": page.target.value,
        "target_id": page.target_id,
        "target_name": page.target_name,
        "sent_at": page.sent_at,
    }


def page_from_row(row: RowMapping) -> Page:
    """Row → Page."""
    return Page(
        id=row["id"],
        guild_id=row["guild_id"],
        alert_id=row["alert_id"],
        level=row["level"],
        target=PageTarget(row["target"]),
        target_id=row["target_id"],
        target_name=row["target_name"],
        sent_at=row["sent_at"],
    )


class SqlPageRepository(SqlRepository):
    """Pages, read per alert for the timeline and the postmortem draft."""

    async def add_many(self, many: Sequence[Page]) -> None:
        """Store new pages, setting their `id`s (one insert each: a step pages a few alerts)."""
        for page in many:
            page.id = await self._insert_returning_id(pages, page_values(page))

    async def for_alerts(self, alert_ids: Collection[int]) -> list[Page]:
        """The pages of these alerts, in the order they were sent."""
        ids = sorted(set(alert_ids))
        found: list[Page] = []
        for start in range(0, len(ids), _CHUNK):
            query = select(pages).where(pages.c.alert_id.in_(ids[start : start + _CHUNK]))
            found += [page_from_row(row) for row in (await self._execute(query)).mappings()]
        return sorted(found, key=lambda p: (p.sent_at, p.id or 0))

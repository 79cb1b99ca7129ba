"""Pagers, the pager page queue, acknowledge links and on-call notices.

Claiming pages and using links are single conditional updates, so two senders never send
the same page at once and a link acknowledges at most once, whatever races.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, or_, select

from bot.adapters.db.repositories._base import SqlRepository, person_from, person_values
from bot.adapters.db.tables import ack_links, oncall_notices, pager_pages, pagers
from bot.core.paging import (
    TEST_ANSWER_WITHIN,
    AckLink,
    Notice,
    PageKind,
    Pager,
    PagerLevel,
    PagerPage,
)

_WAITING = pager_pages.c.sent_at.is_(None) & pager_pages.c.given_up_at.is_(None)


def _pager_values(pager: Pager) -> dict[str, Any]:
    return {
        "guild_id": pager.guild_id,
        "name": pager.name,
        "level": pager.level.value,
        "url_masked": pager.url_masked,
        "url_secret": pager.url_secret,
        "created_at": pager.created_at,
        **person_values("created_by", pager.created_by),
        **person_values("member", pager.member),
        "failing_since": pager.failing_since,
        "last_test_ok_at": pager.last_test_ok_at,
        "test_reminded_at": pager.test_reminded_at,
        "removed_at": pager.removed_at,
    }


def _pager(row: RowMapping) -> Pager:
    return Pager(
        id=row["id"],
        guild_id=row["guild_id"],
        name=row["name"],
        level=PagerLevel(row["level"]),
        url_masked=row["url_masked"],
        url_secret=row["url_secret"],
        created_at=row["created_at"],
        created_by=person_from(row, "created_by"),
        member=person_from(row, "member"),
        failing_since=row["failing_since"],
        last_test_ok_at=row["last_test_ok_at"],
        test_reminded_at=row["test_reminded_at"],
        removed_at=row["removed_at"],
    )


def _page_values(page: PagerPage) -> dict[str, Any]:
    return {
        "guild_id": page.guild_id,
        "pager_id": page.pager_id,
        "kind": page.kind.value,
        "level": page.level,
        "alert_ids": list(page.alert_ids),
        "created_at": page.created_at,
        "not_before": page.not_before,
        "attempts": page.attempts,
        "claimed_until": page.claimed_until,
        "sent_at": page.sent_at,
        "given_up_at": page.given_up_at,
        "last_error": page.last_error,
        "answered_at": page.answered_at,
    }


def _page(row: RowMapping) -> PagerPage:
    return PagerPage(
        id=row["id"],
        guild_id=row["guild_id"],
        pager_id=row["pager_id"],
        kind=PageKind(row["kind"]),
        level=row["level"],
        alert_ids=[int(a) for a in row["alert_ids"]],
        created_at=row["created_at"],
        not_before=row["not_before"],
        attempts=row["attempts"],
        claimed_until=row["claimed_until"],
        sent_at=row["sent_at"],
        given_up_at=row["given_up_at"],
        last_error=row["last_error"],
        answered_at=row["answered_at"],
    )


def _link(row: RowMapping) -> AckLink:
    return AckLink(
        id=row["id"],
        guild_id=row["guild_id"],
        page_id=row["page_id"],
        code_hash=row["code_hash"],
        pager_name=row["pager_name"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


class SqlPagingRepository(SqlRepository):
    """The paging tables."""

    async def add_pager(self, pager: Pager) -> None:
        pager.id = await self._insert_returning_id(pagers, _pager_values(pager))

    async def pager(self, guild_id: int, pager_id: int) -> Pager | None:
        query = select(pagers).where((pagers.c.id == pager_id) & (pagers.c.guild_id == guild_id))
        row = (await self._execute(query)).mappings().first()
        return _pager(row) if row else None

    async def pagers(self, guild_id: int) -> builtins.list[Pager]:
        query = (
            select(pagers)
            .where((pagers.c.guild_id == guild_id) & pagers.c.removed_at.is_(None))
            .order_by(pagers.c.id)
        )
        return [_pager(row) for row in (await self._execute(query)).mappings()]

    async def save_pager(self, pager: Pager) -> None:
        await self._update_by_id(pagers, pager.id, _pager_values(pager), "pager")

    async def active_pagers(self) -> builtins.list[Pager]:
        """Every guild's pagers that are not removed (for the weekly test reminder)."""
        query = select(pagers).where(pagers.c.removed_at.is_(None)).order_by(pagers.c.id)
        return [_pager(row) for row in (await self._execute(query)).mappings()]

    async def unanswered_tests(self, sent_before: datetime) -> builtins.list[PagerPage]:
        """Test pages sent before then, neither answered nor reported unanswered."""
        query = select(pager_pages).where(
            (pager_pages.c.kind == PageKind.TEST.value)
            & (pager_pages.c.sent_at <= sent_before)
            & pager_pages.c.answered_at.is_(None)
            & pager_pages.c.given_up_at.is_(None)
        )
        return [_page(row) for row in (await self._execute(query)).mappings()]

    async def test_timers(self) -> builtins.list[datetime]:
        """When each sent, unanswered test page's ten minutes end."""
        query = select(pager_pages.c.sent_at).where(
            (pager_pages.c.kind == PageKind.TEST.value)
            & pager_pages.c.sent_at.is_not(None)
            & pager_pages.c.answered_at.is_(None)
            & pager_pages.c.given_up_at.is_(None)
        )
        return [at + TEST_ANSWER_WITHIN for at in (await self._execute(query)).scalars()]

    async def add_page(self, page: PagerPage) -> None:
        page.id = await self._insert_returning_id(pager_pages, _page_values(page))

    async def page(self, page_id: int) -> PagerPage | None:
        query = select(pager_pages).where(pager_pages.c.id == page_id)
        row = (await self._execute(query)).mappings().first()
        return _page(row) if row else None

    async def waiting_page(self, pager_id: int, kind: str, level: int) -> PagerPage | None:
        query = (
            select(pager_pages)
            .where(
                (pager_pages.c.pager_id == pager_id)
                & (pager_pages.c.kind == kind)
                & (pager_pages.c.level == level)
                & (pager_pages.c.attempts == 0)
                & pager_pages.c.claimed_until.is_(None)
                & _WAITING
            )
            .order_by(pager_pages.c.id.desc())
            .limit(1)
        )
        row = (await self._execute(query)).mappings().first()
        return _page(row) if row else None

    async def save_page(self, page: PagerPage) -> None:
        await self._update_by_id(pager_pages, page.id, _page_values(page), "page")

    async def claim_pages(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> builtins.list[PagerPage]:
        free = or_(pager_pages.c.claimed_until.is_(None), pager_pages.c.claimed_until <= now)
        query = (
            select(pager_pages.c.id)
            .where(_WAITING & (pager_pages.c.not_before <= now) & free)
            .order_by(pager_pages.c.not_before, pager_pages.c.id)
            .limit(limit)
        )
        claimed = []
        for page_id in (await self._execute(query)).scalars():
            statement = (
                pager_pages.update()
                .where((pager_pages.c.id == page_id) & _WAITING & free)
                .values(claimed_until=lease_until)
                .returning(*pager_pages.c)
            )
            row = (await self._execute(statement)).mappings().first()
            if row is not None:
                claimed.append(_page(row))
        return claimed

    async def next_page_due(self) -> datetime | None:
        due = func.coalesce(pager_pages.c.claimed_until, pager_pages.c.not_before)
        query = select(func.min(due)).where(_WAITING)
        return (await self._execute(query)).scalar_one_or_none()

    async def add_ack_link(self, link: AckLink) -> None:
        link.id = await self._insert_returning_id(
            ack_links,
            {
                "guild_id": link.guild_id,
                "page_id": link.page_id,
                "code_hash": link.code_hash,
                "pager_name": link.pager_name,
                "created_at": link.created_at,
                "expires_at": link.expires_at,
                "used_at": link.used_at,
            },
        )

    async def ack_link(self, code_hash: str) -> AckLink | None:
        query = select(ack_links).where(ack_links.c.code_hash == code_hash)
        row = (await self._execute(query)).mappings().first()
        return _link(row) if row else None

    async def use_ack_link(self, link_id: int, at: datetime) -> bool:
        statement = (
            ack_links.update()
            .where((ack_links.c.id == link_id) & ack_links.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool((await self._execute(statement)).rowcount == 1)  # type: ignore[attr-defined]

    async def add_notice(self, notice: Notice) -> None:
        notice.id = await self._insert_returning_id(
            oncall_notices,
            {
                "guild_id": notice.guild_id,
                "text": notice.text,
                "created_at": notice.created_at,
                "ping_user_id": notice.ping_user_id,
                "role_to": notice.role_to,
                "role_from": list(notice.role_from),
            },
        )

    async def notice(self, notice_id: int) -> Notice | None:
        query = select(oncall_notices).where(oncall_notices.c.id == notice_id)
        row = (await self._execute(query)).mappings().first()
        if row is None:
            return None
        return Notice(
            id=row["id"],
            guild_id=row["guild_id"],
            text=row["text"],
            created_at=row["created_at"],
            ping_user_id=row["ping_user_id"],
            role_to=row["role_to"],
            role_from=[int(m) for m in row["role_from"]],
        )

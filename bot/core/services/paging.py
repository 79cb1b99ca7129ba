"""Pager use cases: register pagers, queue test pages, and the sender's side of the queue.

`page_alerts` runs inside the escalation's unit of work, so a page is queued exactly when
the alerts' level advances. The sender (an adapter) claims due pages, asks `prepare` for
what to send (which makes the page's acknowledge link), sends, then reports `sent` or
`failed`. A page whose alerts were all taken or resolved before it went out is dropped.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.alerts import Alert
from bot.core.errors import NotConfiguredError, NotFoundError, ValidationError
from bot.core.events import Event, Topic
from bot.core.model import Member, Person
from bot.core.pages import Page, PageTarget
from bot.core.paging import (
    ACK_LINK_TTL,
    MAX_ATTEMPTS,
    MAX_PAGERS,
    AckLink,
    Notice,
    PageKind,
    Pager,
    PagerLevel,
    PagerPage,
    hash_ack_code,
    new_ack_code,
    retry_delay,
)
from bot.core.permissions import ensure_can_configure
from bot.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bot.core.services._base import Service
from bot.core.services.alerts import record_sent_pages
from bot.core.services.pager_queue import page_text


class PagerUrls(Protocol):
    """What the core needs from the pager library and the cipher (an adapter provides it)."""

    def check(self, url: str) -> str:
        """The URL with its secrets masked, or ValidationError if the library cannot use it."""

    def seal(self, url: str) -> str:
        """The URL encrypted for storage."""

    def open(self, sealed: str) -> str:
        """The stored URL decrypted."""


@dataclass(frozen=True)
class Outgoing:
    """One page ready to send: where (the URL in clear, never logged), what, and the link."""

    page: PagerPage
    pager: Pager
    url: str
    title: str
    body: str
    ack_url: str


class PagingService(Service):
    """Pagers of a guild, and the sender's side of the page queue."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        urls: PagerUrls | None = None,
        public_url: str = "http://localhost:8080",
    ) -> None:
        super().__init__(uow_factory, clock)
        self.urls = urls  # None: no OPSROOM_PAGER_KEY, so no pagers can be added or sent
        self.public_url = public_url.rstrip("/")

    def _urls(self) -> PagerUrls:
        if self.urls is None:
            raise NotConfiguredError(
                "Pagers are off on this Opsroom: its operator must set OPSROOM_PAGER_KEY."
            )
        return self.urls

    async def add(
        self,
        guild_id: int,
        actor: Member | None,
        url: str,
        *,
        level: PagerLevel = PagerLevel.ONCALL,
        name: str | None = None,
        member: Person | None = None,
    ) -> Pager:
        """Register a pager after the library accepted its URL; the URL is stored sealed."""
        if actor is not None:
            ensure_can_configure(actor)
        urls = self._urls()
        url = url.strip()
        masked = urls.check(url)  # refuses what Apprise cannot send to
        name = " ".join((name or "").split())[:100] or masked.split(":", 1)[0]
        async with self._uow_factory() as uow:
            existing = await uow.paging.pagers(guild_id)
            if len(existing) >= MAX_PAGERS:
                raise ValidationError(f"A server can have at most {MAX_PAGERS} pagers.")
            if any(p.name.casefold() == name.casefold() for p in existing):
                raise ValidationError(f"There is already a pager named {name!r}; pick another.")
            pager = Pager(
                guild_id=guild_id,
                name=name,
                level=level,
                url_masked=masked,
                url_secret=urls.seal(url),
                created_at=self._clock.now(),
                created_by=actor.person if actor else None,
                member=member,
            )
            await uow.paging.add_pager(pager)
            await uow.commit()
            return pager

    async def list(self, guild_id: int) -> builtins.list[Pager]:
        """The guild's pagers (masked URLs only)."""
        async with self._uow_factory() as uow:
            return await uow.paging.pagers(guild_id)

    async def remove(self, guild_id: int, actor: Member | None, pager_id: int) -> Pager:
        """Stop paging it; its past pages stay on record."""
        if actor is not None:
            ensure_can_configure(actor)
        async with self._uow_factory() as uow:
            pager = await uow.paging.pager(guild_id, pager_id)
            if pager is None or pager.removed_at is not None:
                raise NotFoundError(f"There is no pager {pager_id} in this server.")
            pager.removed_at = self._clock.now()
            await uow.paging.save_pager(pager)
            await uow.commit()
            return pager

    async def test(
        self, guild_id: int, actor: Member, pager_id: int | None
    ) -> builtins.list[Pager]:
        """Queue a test page to one pager (or every pager); it must be acknowledged by link."""
        ensure_can_configure(actor)
        async with self._uow_factory() as uow:
            pagers = await uow.paging.pagers(guild_id)
            if pager_id is not None:
                pagers = [p for p in pagers if p.id == pager_id]
            if not pagers:
                raise NotFoundError(
                    "No such pager: add one with `/oncall pager add`, list them with "
                    "`/oncall pager list`."
                )
            now = self._clock.now()
            for pager in pagers:
                assert pager.id is not None
                await uow.paging.add_page(
                    PagerPage(guild_id, pager.id, PageKind.TEST, 0, [], now, now)
                )
            await uow.commit()
            return pagers

    # The sender's side.

    async def claim_due(self, lease: timedelta, limit: int = 20) -> builtins.list[PagerPage]:
        """Pages due now, leased to the caller (another sender takes them after the lease)."""
        async with self._uow_factory() as uow:
            now = self._clock.now()
            pages = await uow.paging.claim_pages(now, now + lease, limit)
            await uow.commit()
            return pages

    async def next_due(self) -> datetime | None:
        """When the sender should look again."""
        async with self._uow_factory() as uow:
            return await uow.paging.next_page_due()

    async def prepare(self, page_id: int) -> Outgoing | None:
        """What to send for a claimed page, with a new acknowledge link; None (and the page
        closed) when its pager is gone or its alerts were all taken or resolved meanwhile."""
        async with self._uow_factory() as uow:
            now = self._clock.now()
            page = await uow.paging.page(page_id)
            if page is None or not page.waiting:
                return None
            pager = await uow.paging.pager(page.guild_id, page.pager_id)
            alerts = [await uow.alerts.get(i) for i in page.alert_ids]
            needed = [a for a in alerts if a and _still_unanswered(a)]
            if (
                pager is None
                or pager.removed_at is not None
                or (page.kind is PageKind.ALERT and not needed)
            ):
                page.given_up_at, page.last_error = now, "no longer needed"
                await uow.paging.save_page(page)
                await uow.commit()
                return None
            if page.kind is PageKind.ALERT and len(needed) < len(page.alert_ids):
                page.alert_ids = [a.id for a in needed if a.id is not None]  # what it names
                await uow.paging.save_page(page)
            code = new_ack_code()
            await uow.paging.add_ack_link(
                AckLink(
                    page.guild_id,
                    page_id,
                    hash_ack_code(code),
                    pager.name,
                    now,
                    now + ACK_LINK_TTL,
                )
            )
            await uow.commit()
        title, body = page_text(pager, page, needed)
        url = self._urls().open(pager.url_secret)
        ack_url = f"{self.public_url}/ack/{code}"
        return Outgoing(page, pager, url, title, f"{body}\n\nAcknowledge: {ack_url}", ack_url)

    async def sent(self, page_id: int) -> None:
        """The pager took the page; a pager that was failing works again."""
        async with self._uow_factory() as uow:
            now = self._clock.now()
            page = await uow.paging.page(page_id)
            if page is None:
                return
            page.sent_at, page.claimed_until = now, None
            page.attempts += 1
            await uow.paging.save_page(page)
            pager = await uow.paging.pager(page.guild_id, page.pager_id)
            if page.kind is PageKind.ALERT and pager is not None:
                alerts = {a.id: a for a in await uow.alerts.get_many(page.alert_ids)}
                records = pager_record(page, pager, now)
                sent = [(alerts[r.alert_id], r) for r in records if r.alert_id in alerts]
                await record_sent_pages(uow, sent, now)
            if pager is not None and pager.failing_since is not None:
                pager.failing_since = None
                await uow.paging.save_pager(pager)
                await notice(uow, page.guild_id, f"✅ {pager.label} works again.", now)
            await uow.commit()

    async def failed(self, page_id: int, error: str) -> None:
        """Try again later (back-off); the first failure of a pager is reported once."""
        async with self._uow_factory() as uow:
            now = self._clock.now()
            page = await uow.paging.page(page_id)
            if page is None:
                return
            page.attempts += 1
            page.claimed_until = None
            page.last_error = error[:500]
            page.not_before = now + retry_delay(page.attempts)
            if page.attempts >= MAX_ATTEMPTS:
                page.given_up_at = now
            await uow.paging.save_page(page)
            pager = await uow.paging.pager(page.guild_id, page.pager_id)
            if pager is not None and pager.failing_since is None:
                pager.failing_since = now
                await uow.paging.save_pager(pager)
                text = f"⚠️ {pager.label} failed: {error[:300]} (retrying with back-off)"
                await notice(uow, page.guild_id, text, now)
            await uow.commit()


def pager_record(page: PagerPage, pager: Pager, at: datetime) -> builtins.list[Page]:
    """A sent pager page on the record: one `Page` per alert it named (same `sent_at`)."""
    assert pager.id is not None
    return [
        Page(page.guild_id, alert_id, page.level, PageTarget.PAGER, pager.id, pager.name, at)
        for alert_id in page.alert_ids
    ]


def _still_unanswered(alert: Alert) -> bool:
    """Firing and nobody took it: the same test as the Discord ping's."""
    return alert.is_open and alert.acknowledged_at is None


async def notice(
    uow: UnitOfWork, guild_id: int, text: str, now: datetime, **extra: object
) -> Notice:
    """A message for #alerts, posted by the Discord side (an outbox event names it)."""
    notice = Notice(guild_id, text, now, **extra)  # type: ignore[arg-type]
    await uow.paging.add_notice(notice)
    assert notice.id is not None
    await uow.outbox.add(Event(Topic.PAGING_NOTICE, guild_id, notice.id))
    return notice

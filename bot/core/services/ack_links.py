"""Acknowledge links: what a link will do (GET), and using it once (POST).

A link acknowledges the still-open alerts of its page in the pager's name (the pager's
member, when it names one), which stops their pings and pages; a test page's link answers
the test. Reused, expired, unknown or malformed codes are one NotFoundError each, so the
HTTP side answers a clear 4xx page, never a 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.alerts import Alert
from bot.core.errors import NotFoundError
from bot.core.model import Person
from bot.core.paging import AckLink, PageKind, PagerPage, hash_ack_code, plausible_ack_code
from bot.core.ports import UnitOfWork
from bot.core.services._base import Service
from bot.core.services.alerts import take_alert
from bot.core.services.paging import notice


@dataclass(frozen=True)
class LinkView:
    """What an acknowledge link will do (GET) or did (POST), for the confirmation page."""

    pager_name: str
    kind: PageKind
    alerts: list[Alert]
    done: bool = False  # POST: acknowledged now


class AckLinkService(Service):
    """The `/ack/{code}` use cases."""

    async def _link(self, uow: UnitOfWork, code: str) -> tuple[AckLink, PagerPage]:
        """The usable link behind a code, or NotFoundError saying why not (no 5xx)."""
        link = await uow.paging.ack_link(hash_ack_code(code)) if plausible_ack_code(code) else None
        page = await uow.paging.page(link.page_id) if link else None
        if link is None or page is None:
            raise NotFoundError("This acknowledge link is not valid.")
        if link.used_at is not None:
            raise NotFoundError("This acknowledge link was already used.")
        if self._clock.now() >= link.expires_at:
            raise NotFoundError("This acknowledge link has expired (links last 24 hours).")
        return link, page

    async def preview(self, code: str) -> LinkView:
        """GET: what the link would acknowledge; changes nothing (link previews are safe)."""
        async with self._uow_factory() as uow:
            link, page = await self._link(uow, code)
            alerts = [a for a in [await uow.alerts.get(i) for i in page.alert_ids] if a]
            return LinkView(link.pager_name, page.kind, alerts)

    async def acknowledge(self, code: str) -> LinkView:
        """POST: use the link once: acknowledge its alerts in the pager's name (or answer
        the test page)."""
        async with self._uow_factory() as uow:
            link, page = await self._link(uow, code)
            now = self._clock.now()
            assert link.id is not None
            if not await uow.paging.use_ack_link(link.id, now):
                raise NotFoundError("This acknowledge link was already used.")
            pager = await uow.paging.pager(page.guild_id, page.pager_id)
            who = Person(
                pager.member.id if pager and pager.member else 0, f"pager '{link.pager_name}'"
            )

            alerts = []
            if page.kind is PageKind.TEST:
                page.answered_at = now
                await uow.paging.save_page(page)
                if pager is not None:
                    pager.last_test_ok_at = now
                    await uow.paging.save_pager(pager)
                    after = int((now - (page.sent_at or page.created_at)).total_seconds())
                    text = f"✅ Test page to {pager.label} answered after {after} seconds."
                    await notice(uow, page.guild_id, text, now)
            else:
                for alert_id in page.alert_ids:
                    alert = await uow.alerts.get(alert_id)
                    if alert is None:
                        continue
                    if alert.is_open and alert.acknowledged_at is None:
                        incident = None
                        if alert.incident_id is not None:
                            incident = await uow.incidents.get_by_id(alert.incident_id)
                        await take_alert(uow, incident, alert, who, now)
                    alerts.append(alert)
            await uow.commit()
            return LinkView(link.pager_name, page.kind, alerts, done=True)

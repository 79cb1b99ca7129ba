"""Queueing pager pages inside an escalation's unit of work, and what a page says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core import oncall
from bot.core.alerts import Alert, EscalationTarget
from bot.core.oncall import OnDuty
from bot.core.paging import GATHER, NAMED_ALERTS, PageKind, Pager, PagerLevel, PagerPage
from bot.core.ports import UnitOfWork


async def page_alerts(
    uow: UnitOfWork,
    guild_id: int,
    target: EscalationTarget,
    level: int,
    alerts: list[Alert],
    now: datetime,
) -> list[PagerPage]:
    """Queue one page per pager of this level naming these alerts; a page of the same pager
    and level still gathering takes them instead (one page per pager per level a storm)."""
    ids = [a.id for a in alerts if a.id is not None]
    if not ids:
        return []
    pages = []
    for pager in await _routed(uow, guild_id, PagerLevel(target.value), now):
        assert pager.id is not None
        page = await uow.paging.waiting_page(pager.id, PageKind.ALERT.value, level)
        if page is None:
            page = PagerPage(
                guild_id=guild_id,
                pager_id=pager.id,
                kind=PageKind.ALERT,
                level=level,
                alert_ids=ids,
                created_at=now,
                not_before=now + GATHER,
            )
            await uow.paging.add_page(page)
        else:
            page.alert_ids = [*page.alert_ids, *(i for i in ids if i not in page.alert_ids)]
            await uow.paging.save_page(page)
        pages.append(page)
    return pages


async def duty(uow: UnitOfWork, guild_id: int, now: datetime) -> OnDuty:
    """Who takes the on-call pages now (in an open unit of work)."""
    rotation = await uow.oncall.rotation(guild_id)
    return oncall.on_duty(rotation, await uow.oncall.shifts(guild_id), now)


async def nobody_on_duty(uow: UnitOfWork, guild_id: int, now: datetime) -> bool:
    """Whether the guild's rotation has nobody on call now (away without a backup)."""
    on_duty = await duty(uow, guild_id, now)
    return on_duty.reason != "no rotation" and on_duty.person is None


async def _routed(uow: UnitOfWork, guild_id: int, level: PagerLevel, now: datetime) -> list[Pager]:
    """The pagers a page at `level` goes to. With a rotation, an on-call pager naming a member
    pages only while that member is on duty, and while the person on duty is away without a
    backup the on-call pages go to the escalation pagers. Without one, every pager pages
    except those of members who are away."""
    pagers = await uow.paging.pagers(guild_id)
    on_duty = await duty(uow, guild_id, now)
    if on_duty.reason == "no rotation":
        away = {p.id for p in on_duty.away}
        return [p for p in pagers if p.level is level and not (p.member and p.member.id in away)]
    if level is PagerLevel.ONCALL and on_duty.person is None:
        level = PagerLevel.ESCALATION  # nobody on duty: straight to the escalation pagers
    chosen = []
    for pager in pagers:
        if pager.level is not level:
            continue
        if level is PagerLevel.ONCALL and pager.member is not None:
            assert on_duty.person is not None
            if pager.member.id != on_duty.person.id:
                continue  # someone else's phone: they are not on duty
        chosen.append(pager)
    return chosen


def page_text(pager: Pager, page: PagerPage, alerts: Sequence[Alert]) -> tuple[str, str]:
    """Title and body of an escalation page: the alerts named (the first ten), the level."""
    if page.kind is PageKind.TEST:
        return (
            "Opsroom test page",
            f"This is a test of {pager.label}. Open the link and press Acknowledge to show "
            "that pages reach you.",
        )
    if len(alerts) == 1:
        title = f"Opsroom: {alerts[0].title}"
    else:
        title = f"Opsroom: {len(alerts)} alerts not acknowledged"
    lines = [f"- {a.title} ({a.monitor})" for a in alerts[:NAMED_ALERTS]]
    if len(alerts) > NAMED_ALERTS:
        lines.append(f"- and {len(alerts) - NAMED_ALERTS} more (see #alerts)")
    head = f"Escalation level {page.level}: nobody has acknowledged yet."
    return title, "\n".join([head, *lines])

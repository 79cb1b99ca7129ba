"""On-call use cases: the rotation, `/oncall who`, overrides, aways, and the clock's sweep
(handoffs, shift ends, unanswered test pages, the weekly reminder to test).

Whenever who is on call changes, `settle` writes one notice: it announces the change in
#alerts (pinging the new person) and tells the Discord side to move the on-call role from
the last holder to the new one. The rotation row remembers the holder, so a restart, or a
handoff missed while the bot was down, moves the role exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core import oncall
from bot.core.errors import NotConfiguredError, PermissionDeniedError
from bot.core.model import OPEN_STATUSES, EntryKind, GuildConfig, Member, Person
from bot.core.oncall import OnDuty, Rotation, Shift, ShiftKind
from bot.core.paging import TEST_ANSWER_WITHIN, TEST_REMINDER_EVERY, Pager
from bot.core.permissions import ensure_can_change, ensure_can_configure
from bot.core.ports import UnitOfWork
from bot.core.services._base import Service, incident_changed, record
from bot.core.services.paging import notice


@dataclass(frozen=True)
class Who:
    """`/oncall who`: who is on call now and who is next, and when."""

    duty: OnDuty
    rotation: Rotation | None
    shifts: list[Shift]


def mention(person: Person | None) -> str:
    return f"<@{person.id}>" if person else "nobody (the escalation pagers take the pages)"


async def settle(uow: UnitOfWork, guild_id: int, now: datetime, why: str) -> OnDuty:
    """Move the on-call role to whoever is on duty now, if that changed, and announce it."""
    rotation = await uow.oncall.rotation(guild_id)
    current = oncall.on_duty(rotation, await uow.oncall.shifts(guild_id), now)
    if rotation is None:
        return current
    new_id = current.person.id if current.person else None
    if new_id == rotation.holder_id:
        return current
    previous = [rotation.holder_id] if rotation.holder_id else []
    rotation.holder_id = new_id
    await uow.oncall.save_rotation(rotation)
    text = (
        f"📟 {why}: on call now {mention(current.person)} ({current.reason}); next "
        f"{mention(rotation.following)} at <t:{int(rotation.next_handoff_at.timestamp())}:f>."
    )
    await notice(uow, guild_id, text, now, ping_user_id=new_id, role_to=new_id, role_from=previous)
    return current


class OncallService(Service):
    """The rotation and its exceptions; `sweep` is the clock's door."""

    async def set_rotation(
        self, guild_id: int, actor: Member, members: list[Person], handoff: str, every: str | None
    ) -> Rotation:
        """Start (or replace) the rotation: the first member is on call from now."""
        ensure_can_configure(actor)
        async with self._uow_factory() as uow:
            config = await self._config(uow, guild_id)
            if config.oncall_role_id is None:
                raise NotConfiguredError(
                    "Set an on-call role first: `/opsroom setup oncall_role:<role>`."
                )
            now = self._clock.now()
            rotation = oncall.new_rotation(guild_id, members, handoff, every, config.tz, now)
            old = await uow.oncall.rotation(guild_id)
            rotation.holder_id = old.holder_id if old else None
            await uow.oncall.save_rotation(rotation)
            await settle(uow, guild_id, now, "Rotation set")
            await uow.commit()
            return (await self.who(guild_id)).rotation or rotation

    async def who(self, guild_id: int) -> Who:
        async with self._uow_factory() as uow:
            now = self._clock.now()
            rotation = await uow.oncall.rotation(guild_id)
            shifts = await uow.oncall.shifts(guild_id)
            return Who(oncall.on_duty(rotation, shifts, now), rotation, shifts)

    async def override(self, guild_id: int, actor: Member, user: Person, until: str) -> Shift:
        """`user` is on call from now until `until`, whoever's turn it is."""
        async with self._uow_factory() as uow:
            config = await self._config(uow, guild_id)
            ensure_can_change(actor, config)
            if await uow.oncall.rotation(guild_id) is None:
                raise NotConfiguredError("There is no rotation to override: `/oncall rotation`.")
            now = self._clock.now()
            ends = oncall.parse_until(until, now=now, tz=config.tz)
            shift = Shift(guild_id, ShiftKind.OVERRIDE, user, now, ends)
            await uow.oncall.add_shift(shift)
            await settle(uow, guild_id, now, f"Override by {actor.person.name}")
            await uow.commit()
            return shift

    async def away(
        self, guild_id: int, actor: Member, until: str, backup: Person | None
    ) -> tuple[Shift, int]:
        """The caller hands their pages to `backup` (or the escalation pagers) until then, and
        a holding update goes on each open incident they command. Returns (shift, updates)."""
        async with self._uow_factory() as uow:
            config = await self._config(uow, guild_id)
            ensure_can_change(actor, config)
            if backup is not None and backup.id == actor.person.id:
                raise PermissionDeniedError("Your backup must be someone else.")
            now = self._clock.now()
            ends = oncall.parse_until(until, now=now, tz=config.tz)
            shift = Shift(guild_id, ShiftKind.AWAY, actor.person, now, ends, backup)
            await uow.oncall.add_shift(shift)
            await settle(uow, guild_id, now, f"{actor.person.name} is away")
            updates = await _holding_updates(uow, config, actor.person, shift, now)
            await uow.commit()
            return shift, updates

    async def sweep(self) -> list[str]:
        """Everything due now: handoffs, ended shifts, unanswered tests, test reminders."""
        done: list[str] = []
        async with self._uow_factory() as uow:
            now = self._clock.now()
            configs: dict[int, GuildConfig] = {}
            for rotation in await uow.oncall.due_rotations(now):
                config = configs.setdefault(
                    rotation.guild_id, await self._config(uow, rotation.guild_id)
                )
                oncall.advance(rotation, config.tz, now)
                await uow.oncall.save_rotation(rotation)
                await settle(uow, rotation.guild_id, now, "Handoff")
                done.append(f"handoff:{rotation.guild_id}")
            for shift in await uow.oncall.due_shifts(now):
                shift.ended_at = now
                await uow.oncall.save_shift(shift)
                await settle(uow, shift.guild_id, now, f"The {shift.kind.value} ended")
                done.append(f"shift:{shift.id}")
            for page in await uow.paging.unanswered_tests(now - TEST_ANSWER_WITHIN):
                page.given_up_at = now  # reported: a test page is answered or not, once
                await uow.paging.save_page(page)
                pager = await uow.paging.pager(page.guild_id, page.pager_id)
                label = pager.label if pager else "a removed pager"
                text = f"❌ Test page to {label} was not answered within 10 minutes."
                await notice(uow, page.guild_id, text, now)
                done.append(f"test:{page.id}")
            for guild_id, pagers in _by_guild(await uow.paging.active_pagers()).items():
                if _test_reminder_due(pagers) <= now:
                    for pager in pagers:
                        pager.test_reminded_at = now
                        await uow.paging.save_pager(pager)
                    text = (
                        "🧪 No pager test has succeeded in 7 days: run `/oncall test` and "
                        "acknowledge it from your phone, so a real page is sure to wake you."
                    )
                    await notice(uow, guild_id, text, now)
                    done.append(f"test-reminder:{guild_id}")
            await uow.commit()
        return done

    async def timers(self, limit: int) -> list[tuple[str, datetime]]:
        """(key, due time) of every on-call and paging moment the clock must wake for."""
        async with self._uow_factory() as uow:
            found = await uow.oncall.timers(limit)
            found += [(f"test-page:{at.isoformat()}", at) for at in await uow.paging.test_timers()]
            for guild_id, pagers in _by_guild(await uow.paging.active_pagers()).items():
                found.append((f"test-reminder:{guild_id}", _test_reminder_due(pagers)))
        return sorted(found, key=lambda t: t[1])[:limit]


def _by_guild(pagers: list[Pager]) -> dict[int, list[Pager]]:
    grouped: dict[int, list[Pager]] = {}
    for pager in pagers:
        grouped.setdefault(pager.guild_id, []).append(pager)
    return grouped


def _test_reminder_due(pagers: list[Pager]) -> datetime:
    """7 days after the guild's latest successful test or reminder (or its first pager)."""
    latest = [p.last_test_ok_at for p in pagers if p.last_test_ok_at]
    latest += [p.test_reminded_at for p in pagers if p.test_reminded_at]
    since = max(latest) if latest else min(p.created_at for p in pagers)
    return since + TEST_REMINDER_EVERY


async def _holding_updates(
    uow: UnitOfWork, config: GuildConfig, person: Person, shift: Shift, now: datetime
) -> int:
    """A holding update on each open incident `person` commands: who covers, and until when."""
    count = 0
    for incident in await uow.incidents.list(config.guild_id, OPEN_STATUSES):
        if incident.commander is None or incident.commander.id != person.id:
            continue
        cover = shift.backup.name if shift.backup else "the escalation role"
        text = (
            f"Holding update: {person.name} is away until {shift.ends_at:%Y-%m-%d %H:%M} UTC; "
            f"{cover} takes the pages meanwhile."
        )
        incident.latest_update, incident.latest_update_at = text, now
        await record(
            uow, incident, kind=EntryKind.UPDATE, text=text, at=now, now=now, author=person
        )
        await incident_changed(uow, incident)
        count += 1
    return count

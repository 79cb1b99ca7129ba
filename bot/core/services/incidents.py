"""Incident use cases: declare, command, roles, severity, status, updates, reading."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from bot.core import lifecycle, milestones
from bot.core.errors import NotFoundError
from bot.core.events import Event, Topic
from bot.core.milestones import MilestoneName
from bot.core.model import (
    EntryKind,
    EntrySource,
    GuildConfig,
    Incident,
    IncidentRole,
    Member,
    Person,
    Severity,
    Status,
)
from bot.core.permissions import ensure_can_change
from bot.core.services import reminders, watch
from bot.core.services._base import (
    IncidentRef,
    Service,
    clean_text,
    find_incident,
    incident_changed,
    log_change,
    record,
    record_milestones,
)
from bot.core.services.alerts import attach_alert, take_alert
from bot.core.services.publishing import publish_status_change, publish_update
from bot.core.timeparse import parse_at

PAGE_SIZE = 25  # incidents per `/incident list` page


@dataclass(frozen=True)
class IncidentPage:
    """One page of a listing, newest first, and whether older and newer pages exist."""

    incidents: list[Incident]
    older: bool
    newer: bool


class IncidentService(Service):
    """Everything that changes or reads an incident itself."""

    async def declare(
        self,
        guild_id: int,
        actor: Member,
        *,
        title: str,
        severity: Severity,
        commander: Person | None = None,
        summary: str = "",
        started: str | None = None,
        alert_id: int | None = None,
    ) -> Incident:
        """Open an incident (optionally from an alert), commanded by the declarer by default."""
        async with self._uow_factory() as uow:
            config = await uow.guilds.get(guild_id)
            ensure_can_change(actor, config)
            config = config or GuildConfig(guild_id)  # not set up yet: the defaults
            now = self._clock.now()
            started_at = parse_at(started, now=now, tz=config.tz) if started else None
            incident = lifecycle.new_incident(
                guild_id=guild_id,
                title=title,
                severity=severity,
                declared_by=actor.person,
                commander=commander or actor.person,
                declared_at=now,
                started_at=started_at,
                summary=summary,
            )
            await uow.incidents.add(incident)
            cmd = incident.commander
            assert cmd is not None
            text = f"Declared {severity.value} ({severity.label}) by {actor.person.name}"
            text += f"; commander {cmd.name}" + (
                f". {incident.summary}" if incident.summary else ""
            )
            await record(
                uow,
                incident,
                kind=EntryKind.DECLARED,
                text=text,
                at=now,
                now=now,
                author=actor.person,
                source=EntrySource.SYSTEM,
            )
            if started_at is not None and started_at < now:
                await record(
                    uow,
                    incident,
                    kind=EntryKind.NOTE,
                    text="Impact began (as declared)",
                    at=started_at,
                    now=now,
                    author=actor.person,
                    source=EntrySource.SYSTEM,
                )
            if alert_id is not None:
                alert = await uow.alerts.get(alert_id)
                if alert is None or alert.guild_id != guild_id:
                    raise NotFoundError("That alert no longer exists.")
                await attach_alert(uow, incident, alert, now, actor.person)
                if alert.is_open and alert.acknowledged_at is None and not alert.notice:
                    # Declaring from an alert takes it: its escalation stops.
                    await take_alert(uow, incident, alert, actor.person, now)
                else:
                    await uow.outbox.add(Event(Topic.ALERT_CHANGED, guild_id, alert_id))
            await reminders.plan_update_nudge(uow, incident, config, now, now)
            await watch.incident_moved(uow, guild_id, now)
            await incident_changed(uow, incident)
            await uow.commit()
        log_change(incident, actor.person, [text])
        return incident

    async def set_commander(
        self, guild_id: int, actor: Member, ref: IncidentRef, person: Person
    ) -> Incident:
        """Hand over command; both the old and the new commander go on the timeline."""
        async with self._editing(guild_id, actor, ref) as e:
            old = lifecycle.hand_over(e.incident, person, e.now)
            text = f"Command handed over from {old.name if old else 'nobody'} to {person.name}"
            await e.record(EntryKind.ROLE, text, actor.person)
        return e.incident

    async def assign_role(
        self, guild_id: int, actor: Member, ref: IncidentRef, person: Person, role: IncidentRole
    ) -> Incident:
        """Give someone the scribe, comms or ops role."""
        async with self._editing(guild_id, actor, ref) as e:
            lifecycle.assign_role(e.incident, person, role, e.now)
            await e.record(EntryKind.ROLE, f"{person.name} is now {role.value}", actor.person)
        return e.incident

    async def unassign_role(
        self, guild_id: int, actor: Member, ref: IncidentRef, person: Person, role: IncidentRole
    ) -> Incident:
        """Take a supporting role back."""
        async with self._editing(guild_id, actor, ref) as e:
            lifecycle.unassign_role(e.incident, person, role, e.now)
            await e.record(EntryKind.ROLE, f"{person.name} is no longer {role.value}", actor.person)
        return e.incident

    async def set_severity(
        self, guild_id: int, actor: Member, ref: IncidentRef, severity: Severity
    ) -> Incident:
        """Raise or lower the severity, on the timeline."""
        async with self._editing(guild_id, actor, ref) as e:
            old = lifecycle.change_severity(e.incident, severity)
            await reminders.plan_update_nudge(e.uow, e.incident, e.config, e.now, e.now)
            await e.record(
                EntryKind.SEVERITY,
                f"Severity {old.value} → {severity.value} ({severity.label})",
                actor.person,
            )
        return e.incident

    async def set_status(
        self,
        guild_id: int,
        actor: Member,
        ref: IncidentRef,
        status: Status,
        note: str | None = None,
    ) -> Incident:
        """Move the incident along (or back); every move is recorded."""
        async with self._editing(guild_id, actor, ref) as e:
            old = lifecycle.change_status(e.incident, status, e.now)
            await reminders.status_changed(e.uow, e.incident, old, e.config, e.now)
            if status is Status.RESOLVED:
                await watch.incident_moved(e.uow, guild_id, e.now)
            text = f"Status {old.value} → {status.value}"
            if note and note.strip():
                text += f": {clean_text(note, 'The note')}"
            await e.record(EntryKind.STATUS, text, actor.person)
            await publish_status_change(e)
            if status is Status.CLOSED:  # the draft goes out once per close (a reopen re-arms)
                assert e.incident.id is not None
                await e.uow.outbox.add(Event(Topic.INCIDENT_CLOSED, guild_id, e.incident.id))
        return e.incident

    async def resolve(
        self, guild_id: int, actor: Member, ref: IncidentRef, note: str | None = None
    ) -> Incident:
        """Mark the impact over."""
        return await self.set_status(guild_id, actor, ref, Status.RESOLVED, note)

    async def close(self, guild_id: int, actor: Member, ref: IncidentRef) -> Incident:
        """Finish the incident; the postmortem draft is written from what is stored."""
        return await self.set_status(guild_id, actor, ref, Status.CLOSED)

    async def set_milestone(
        self, guild_id: int, actor: Member, ref: IncidentRef, name: MilestoneName, at: str
    ) -> Incident:
        """Set or correct a milestone by hand (also after close, for the postmortem); the
        change is on the timeline with who made it, and inference leaves it alone after."""
        async with self._editing(guild_id, actor, ref) as e:
            when = parse_at(at, now=e.now, tz=e.config.tz)
            change = milestones.set_by_hand(e.incident, name, when, e.now)
            await record_milestones(e.uow, e.incident, [change], actor.person, e.now)
        return e.incident

    async def post_update(
        self, guild_id: int, actor: Member, ref: IncidentRef, text: str, *, public: bool = False
    ) -> Incident:
        """A status update for watchers: shown on the card and in the operating room; with
        `public`, also published on the status page (commander or comms only)."""
        async with self._editing(guild_id, actor, ref) as e:
            lifecycle.ensure_not_closed(e.incident)
            text = clean_text(text, "The update")
            if public:
                await publish_update(e, actor, text)
            e.incident.latest_update, e.incident.latest_update_at = text, e.now
            await reminders.plan_update_nudge(e.uow, e.incident, e.config, e.now, e.now)
            await e.record(EntryKind.UPDATE, text, actor.person)
        return e.incident

    async def link_discord(
        self,
        guild_id: int,
        number: int,
        *,
        channel_id: int | None = None,
        card_message_id: int | None = None,
        room_message_id: int | None = None,
        room_thread_id: int | None = None,
    ) -> Incident:
        """Remember the Discord objects made for an incident (the bot's own bookkeeping)."""
        async with self._uow_factory() as uow:
            incident = await find_incident(uow, guild_id, IncidentRef(number=number))
            links = {
                "channel_id": channel_id,
                "card_message_id": card_message_id,
                "room_message_id": room_message_id,
                "room_thread_id": room_thread_id,
            }
            for name, value in links.items():
                if value is not None:
                    setattr(incident, name, value)
            await uow.incidents.save(incident)
            await uow.commit()
            return incident

    async def get(self, guild_id: int, ref: IncidentRef) -> Incident:
        """Read one incident; anyone may."""
        async with self._reading() as uow:
            return await find_incident(uow, guild_id, ref)

    async def list(
        self, guild_id: int, statuses: Collection[Status] | None = None
    ) -> list[Incident]:
        """Incidents of the guild, newest first."""
        async with self._reading() as uow:
            return await uow.incidents.list(guild_id, statuses)

    async def page(
        self,
        guild_id: int,
        statuses: Collection[Status],
        *,
        before: int | None = None,
        after: int | None = None,
        size: int = PAGE_SIZE,
    ) -> IncidentPage:
        """One page of the guild's incidents in `statuses`, newest first: the first page, the
        one below number `before` (older), or the one above `after` (newer). A page that
        has become empty (its incidents changed status) gives the first page instead."""
        async with self._uow_factory() as uow:
            pages = uow.incidents
            if after is not None:
                found = await pages.page(guild_id, statuses, after=after, limit=size + 1)
                newer, found = len(found) > size, found[-size:]
            else:
                found = await pages.page(guild_id, statuses, before=before, limit=size + 1)
                newer, found = False, found[:size]
            if not found and (before is not None or after is not None):
                found = await pages.page(guild_id, statuses, limit=size + 1)
                before = after = None
            if not found:
                return IncidentPage([], older=False, newer=False)
            if after is None and before is not None:
                newer = bool(await pages.page(guild_id, statuses, after=found[0].number, limit=1))
            older = bool(await pages.page(guild_id, statuses, before=found[-1].number, limit=1))
            return IncidentPage(found[:size], older=older, newer=newer)

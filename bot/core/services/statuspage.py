"""Status page use cases: the page, its components, publishing incidents, maintenance.

These are the only writers of the public read model. Every change bumps the page's version
(the web servers' cue to render again) and every public post goes on the incident's
timeline with who published it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from bot.core.errors import ConflictError, NotFoundError, ValidationError
from bot.core.events import Event, Topic
from bot.core.model import EntryKind, GuildConfig, Member
from bot.core.permissions import ensure_can_change, ensure_can_configure, ensure_can_publish
from bot.core.ports import UnitOfWork
from bot.core.services._base import Edit, IncidentRef, Service, find_incident
from bot.core.services.publishing import STATUS_TEXT, hold, post, require_page, touch
from bot.core.statuspage import (
    HISTORY_DAYS,
    MAX_NAME,
    MAX_TITLE,
    Component,
    ComponentState,
    Impact,
    Maintenance,
    PublicIncident,
    PublicStatus,
    StatusPage,
    check_slug,
    check_window,
    clean,
    names,
    new_code,
    parse_window,
    resume_after_maintenance,
)


class StatusPageService(Service):
    """The page and its components (configuration) and publishing incidents."""

    async def enable(
        self,
        guild_id: int,
        actor: Member,
        slug: str,
        title: str | None = None,
        announcements_channel_id: int | None = None,
    ) -> StatusPage:
        """Serve the guild's page at `/status/{slug}` (Manage Server); again: change it."""
        ensure_can_configure(actor)
        slug = check_slug(slug)
        async with self._uow_factory() as uow:
            now = self._clock.now()
            taken = await uow.statuspage.by_slug(slug)
            if taken is not None and taken.guild_id != guild_id:
                raise ConflictError(f"The slug `{slug}` is taken; choose another.")
            page = await uow.statuspage.get(guild_id)
            title = clean(title, "The title", MAX_TITLE) if title else None
            if page is None:
                page = StatusPage(guild_id, slug, title or "Status", created_at=now)
            page.slug, page.enabled = slug, True
            page.title = title or page.title
            page.announcements_channel_id = announcements_channel_id
            page.version += 1
            page.updated_at = now
            await uow.statuspage.save(page)
            await uow.commit()
            return page

    async def disable(self, guild_id: int, actor: Member) -> StatusPage:
        """Stop serving the page (everything published is kept for when it comes back)."""
        ensure_can_configure(actor)
        async with self._uow_factory() as uow:
            page = await require_page(uow, guild_id)
            page.enabled = False
            page.version += 1
            page.updated_at = self._clock.now()
            await uow.statuspage.save(page)
            await uow.commit()
            return page

    async def get(self, guild_id: int) -> StatusPage | None:
        """The guild's page, enabled or not."""
        async with self._uow_factory() as uow:
            return await uow.statuspage.get(guild_id)

    async def components(self, guild_id: int) -> list[Component]:
        """The guild's components, in the order they were added."""
        async with self._uow_factory() as uow:
            return await uow.statuspage.components(guild_id)

    async def add_component(
        self, guild_id: int, actor: Member, name: str, group: str | None = None
    ) -> Component:
        """A new component, operational (responders)."""
        async with self._changing(guild_id, actor) as (uow, now):
            name = clean(name, "The name", MAX_NAME)
            existing = await uow.statuspage.components(guild_id)
            if any(c.name.casefold() == name.casefold() for c in existing):
                raise ConflictError(f"There is already a component called {name!r}.")
            component = Component(
                guild_id,
                name,
                group=clean(group, "The group", MAX_NAME) if group else None,
                position=len(existing),
                created_at=now,
                updated_at=now,
            )
            await uow.statuspage.save_component(component)
        return component

    async def remove_component(self, guild_id: int, actor: Member, name: str) -> Component:
        """Take a component off the page (responders)."""
        async with self._changing(guild_id, actor) as (uow, _):
            component = await self._component(uow, guild_id, name)
            assert component.id is not None
            await uow.statuspage.remove_component(component.id)
        return component

    async def set_component(
        self, guild_id: int, actor: Member, name: str, state: ComponentState
    ) -> Component:
        """Set a component's state by hand; it then no longer follows any incident."""
        async with self._changing(guild_id, actor) as (uow, now):
            component = await self._component(uow, guild_id, name)
            component.state, component.held_by, component.updated_at = state, None, now
            await uow.statuspage.save_component(component)
        return component

    async def publish(
        self,
        guild_id: int,
        actor: Member,
        ref: IncidentRef,
        title: str,
        components: str | None = None,
        impact: Impact | None = None,
    ) -> PublicIncident:
        """Put an incident on the page under a public title (commander or comms); again:
        change its public title, components or impact."""
        async with self._uow_factory() as uow:
            incident = await find_incident(uow, guild_id, ref)
            ensure_can_publish(actor, incident)
            await require_page(uow, guild_id)
            now = self._clock.now()
            edit = Edit(uow, incident, await self._config(uow, guild_id), now)
            title = clean(title, "The public title", MAX_TITLE)
            wanted = await self._known(uow, guild_id, names(components))
            public = await uow.statuspage.incident(incident.id or 0)
            if public is None:
                if not incident.status.is_open:
                    raise ConflictError(f"{incident.label} is already {incident.status.value}.")
                assert incident.id is not None
                public = PublicIncident(
                    guild_id,
                    incident.id,
                    new_code(),
                    title,
                    impact or Impact.MINOR,
                    PublicStatus.of(incident.status),
                    wanted,
                    now,
                    now,
                )
                await uow.statuspage.save_incident(public)
                await post(edit, public, public.status, STATUS_TEXT[public.status], actor)
            else:
                if components is not None:
                    await hold(uow, public, now, release=True)
                    public.components = wanted
                public.title, public.impact = title, impact or public.impact
                public.updated_at = now
                await edit.record(
                    EntryKind.NOTE,
                    f"Status page entry changed by {actor.person.name}: {title!r}, "
                    f"impact {public.impact.value}",
                    actor.person,
                )
            if public.active:
                await hold(uow, public, now)
            await uow.statuspage.save_incident(public)
            await touch(uow, guild_id, now)
            await uow.commit()
            return public

    async def schedule_maintenance(
        self,
        guild_id: int,
        actor: Member,
        title: str,
        start: str,
        end: str,
        components: str | None = None,
        monitors: str | None = None,
    ) -> Maintenance:
        """A window: notice on the page, a Discord scheduled event, quiet alerts in it."""
        async with self._changing(guild_id, actor) as (uow, now):
            tz = (await self._config(uow, guild_id)).tz
            starts_at = parse_window(start, now=now, tz=tz)
            ends_at = parse_window(end, now=now, tz=tz)
            check_window(starts_at, ends_at, now)
            maintenance = Maintenance(
                guild_id,
                new_code(),
                clean(title, "The title", MAX_TITLE),
                starts_at,
                ends_at,
                await self._known(uow, guild_id, names(components)),
                names(monitors),
                now,
                actor.person.id,
            )
            await uow.statuspage.add_maintenance(maintenance)
            assert maintenance.id is not None
            await uow.outbox.add(Event(Topic.MAINTENANCE_CHANGED, guild_id, maintenance.id))
        return maintenance

    async def maintenances(self, guild_id: int) -> list[Maintenance]:
        """Windows not over yet, soonest first."""
        async with self._uow_factory() as uow:
            return await uow.statuspage.maintenances(guild_id, self._clock.now())

    async def cancel_maintenance(
        self, guild_id: int, actor: Member, maintenance_id: int
    ) -> Maintenance:
        """Take the window back: its notice, its scheduled event and the quiet alerts."""
        async with self._changing(guild_id, actor) as (uow, now):
            maintenance = await uow.statuspage.maintenance(maintenance_id)
            if maintenance is None or maintenance.guild_id != guild_id:
                raise NotFoundError(f"There is no maintenance {maintenance_id} in this server.")
            if maintenance.cancelled_at is not None:
                raise ConflictError(f"Maintenance {maintenance_id} is already cancelled.")
            maintenance.cancelled_at = now
            await uow.statuspage.save_maintenance(maintenance)
            config = await self._config(uow, guild_id)
            for alert in await uow.alerts.in_maintenance(maintenance_id):  # not maintenance now
                resume_after_maintenance(alert, config, now)
                await uow.alerts.save(alert)
                assert alert.id is not None
                await uow.outbox.add(Event(Topic.ALERT_CHANGED, guild_id, alert.id))
            await uow.outbox.add(Event(Topic.MAINTENANCE_CHANGED, guild_id, maintenance_id))
        return maintenance

    async def record_event(self, maintenance_id: int, event_id: int | None) -> None:
        """Remember the Discord scheduled event of a window (the relay's bookkeeping)."""
        async with self._uow_factory() as uow:
            maintenance = await uow.statuspage.maintenance(maintenance_id)
            if maintenance is not None:
                maintenance.event_id = event_id
                await uow.statuspage.save_maintenance(maintenance)
                await uow.commit()

    async def history(self, guild_id: int) -> list[PublicIncident]:
        """Public incidents of the last 90 days (and any still active), newest first."""
        async with self._uow_factory() as uow:
            since = self._clock.now() - timedelta(days=HISTORY_DAYS)
            return await uow.statuspage.incidents(guild_id, since)

    @asynccontextmanager
    async def _changing(
        self, guild_id: int, actor: Member
    ) -> AsyncIterator[tuple[UnitOfWork, datetime]]:
        """A responder's change to the page, committed with a version bump."""
        async with self._uow_factory() as uow:
            config: GuildConfig | None = await uow.guilds.get(guild_id)
            ensure_can_change(actor, config)
            now = self._clock.now()
            yield uow, now
            await touch(uow, guild_id, now)
            await uow.commit()

    @staticmethod
    async def _component(uow: UnitOfWork, guild_id: int, name: str) -> Component:
        for component in await uow.statuspage.components(guild_id):
            if component.name.casefold() == name.strip().casefold():
                return component
        raise NotFoundError(f"There is no component called {name.strip()!r}.")

    @staticmethod
    async def _known(uow: UnitOfWork, guild_id: int, wanted: list[str]) -> list[str]:
        """The components named, spelled as stored; unknown names are refused."""
        known = {c.name.casefold(): c.name for c in await uow.statuspage.components(guild_id)}
        missing = [n for n in wanted if n.casefold() not in known]
        if missing:
            have = ", ".join(known.values()) or "none yet (/statuspage component add)"
            raise ValidationError(f"Unknown component {missing[0]!r}; the components are: {have}.")
        return [known[n.casefold()] for n in wanted]

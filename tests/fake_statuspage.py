"""An in-memory status page read model for the core's unit tests (see tests/fakes.py)."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from bot.core.errors import ConflictError
from bot.core.statuspage import Component, Maintenance, PublicIncident, PublicUpdate, StatusPage


@dataclass
class StatusPageStore:
    """The read model's rows."""

    pages: dict[int, StatusPage] = field(default_factory=dict)
    components: dict[int, Component] = field(default_factory=dict)
    incidents: dict[int, PublicIncident] = field(default_factory=dict)
    updates: dict[int, tuple[PublicUpdate, int, int | None]] = field(default_factory=dict)
    maintenances: dict[int, Maintenance] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))


T = TypeVar("T")


def _c(obj: T) -> T:
    return copy.deepcopy(obj)


class FakeStatusPage:
    """`uow.statuspage` over a StatusPageStore."""

    def __init__(self, store: Any) -> None:
        self.s: StatusPageStore = store.statuspage

    async def get(self, guild_id: int) -> StatusPage | None:
        return _c(self.s.pages.get(guild_id))

    async def by_slug(self, slug: str) -> StatusPage | None:
        return _c(next((p for p in self.s.pages.values() if p.slug == slug), None))

    async def version(self, slug: str) -> int | None:
        page = await self.by_slug(slug)
        return page.version if page and page.enabled else None

    async def save(self, page: StatusPage) -> None:
        other = await self.by_slug(page.slug)
        if other is not None and other.guild_id != page.guild_id:
            raise ConflictError("slug taken")
        self.s.pages[page.guild_id] = _c(page)

    async def components(self, guild_id: int) -> list[Component]:
        found = [c for c in self.s.components.values() if c.guild_id == guild_id]
        return _c(sorted(found, key=lambda c: (c.position, c.id)))

    async def save_component(self, component: Component) -> None:
        if component.id is None:
            component.id = next(self.s.ids)
        self.s.components[component.id] = _c(component)

    async def remove_component(self, component_id: int) -> None:
        self.s.components.pop(component_id, None)

    def _full(self, public: PublicIncident) -> PublicIncident:
        public = _c(public)
        mine = [u for u, pid, _ in self.s.updates.values() if pid == public.id]
        public.updates = _c(sorted(mine, key=lambda u: (u.created_at, u.id), reverse=True))
        return public

    async def incident(self, incident_id: int) -> PublicIncident | None:
        for public in self.s.incidents.values():
            if public.incident_id == incident_id:
                return self._full(public)
        return None

    async def incidents(self, guild_id: int, since: datetime) -> list[PublicIncident]:
        found = [
            self._full(p)
            for p in self.s.incidents.values()
            if p.guild_id == guild_id
            and (p.resolved_at is None or p.created_at >= since or p.resolved_at >= since)
        ]
        return sorted(found, key=lambda p: (p.created_at, p.id), reverse=True)

    async def save_incident(self, incident: PublicIncident) -> None:
        if incident.id is None:
            incident.id = next(self.s.ids)
        stored = _c(incident)
        stored.updates = []
        self.s.incidents[incident.id] = stored

    async def add_update(self, update: PublicUpdate) -> None:
        update.id = next(self.s.ids)
        assert update.public_incident_id is not None
        self.s.updates[update.id] = (_c(update), update.public_incident_id, None)

    def _guild_of(self, public_incident_id: int) -> int:
        return self.s.incidents[public_incident_id].guild_id

    async def unannounced(self, guild_id: int, after: datetime) -> list[PublicUpdate]:
        found = [
            u
            for u, pid, _ in self.s.updates.values()
            if self._guild_of(pid) == guild_id
            and u.announced_message_id is None
            and u.created_at >= after
        ]
        return _c(sorted(found, key=lambda u: (u.created_at, u.id)))

    async def announced_since(self, channel_id: int, since: datetime) -> int:
        return len(
            {
                u.announced_message_id
                for u, _, channel in self.s.updates.values()
                if channel == channel_id and u.announced_at and u.announced_at >= since
            }
        )

    async def mark_announced(
        self, update_ids: Any, channel_id: int, message_id: int, at: datetime
    ) -> None:
        for uid in update_ids:
            update, pid, _ = self.s.updates[uid]
            update.announced_message_id, update.announced_at = message_id, at
            self.s.updates[uid] = (update, pid, channel_id)

    async def add_maintenance(self, maintenance: Maintenance) -> None:
        maintenance.id = next(self.s.ids)
        self.s.maintenances[maintenance.id] = _c(maintenance)

    async def maintenance(self, maintenance_id: int) -> Maintenance | None:
        return _c(self.s.maintenances.get(maintenance_id))

    async def maintenances(self, guild_id: int, since: datetime) -> list[Maintenance]:
        found = [
            m
            for m in self.s.maintenances.values()
            if m.guild_id == guild_id and m.cancelled_at is None and m.ends_at > since
        ]
        return _c(sorted(found, key=lambda m: (m.starts_at, m.id)))

    async def covering(self, guild_ids: Any, at: datetime) -> list[Maintenance]:
        return _c(
            [
                m
                for m in self.s.maintenances.values()
                if m.guild_id in set(guild_ids)
                and m.cancelled_at is None
                and m.starts_at <= at < m.ends_at
            ]
        )

    async def save_maintenance(self, maintenance: Maintenance) -> None:
        self.s.maintenances[maintenance.id or 0] = _c(maintenance)

"""The status page's read model in SQL: pages, components, public incidents, maintenance."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, or_, select

from bot.adapters.db.repositories._base import SqlRepository
from bot.adapters.db.tables import (
    maintenances,
    public_incidents,
    public_updates,
    status_components,
    status_pages,
)
from bot.core.statuspage import (
    Component,
    ComponentState,
    Impact,
    Maintenance,
    PublicIncident,
    PublicStatus,
    PublicUpdate,
    StatusPage,
)


def _page(row: RowMapping) -> StatusPage:
    return StatusPage(
        guild_id=row["guild_id"],
        slug=row["slug"],
        title=row["title"],
        enabled=row["enabled"],
        announcements_channel_id=row["announcements_channel_id"],
        version=row["version"],
        updated_at=row["updated_at"],
        created_at=row["created_at"],
    )


def _component(row: RowMapping) -> Component:
    return Component(
        id=row["id"],
        guild_id=row["guild_id"],
        code=row["code"],
        name=row["name"],
        group=row["group_name"],
        state=ComponentState(row["state"]),
        held_by=row["held_by"],
        position=row["position"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _update(row: RowMapping) -> PublicUpdate:
    return PublicUpdate(
        id=row["id"],
        public_incident_id=row["public_incident_id"],
        status=PublicStatus(row["status"]),
        body=row["body"],
        created_at=row["created_at"],
        announced_message_id=row["announced_message_id"],
        announced_at=row["announced_at"],
    )


def _incident(row: RowMapping) -> PublicIncident:
    return PublicIncident(
        id=row["id"],
        guild_id=row["guild_id"],
        incident_id=row["incident_id"],
        code=row["code"],
        title=row["title"],
        impact=Impact(row["impact"]),
        status=PublicStatus(row["status"]),
        components=list(row["components"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        resolved_at=row["resolved_at"],
    )


def _maintenance(row: RowMapping) -> Maintenance:
    return Maintenance(
        id=row["id"],
        guild_id=row["guild_id"],
        code=row["code"],
        title=row["title"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        components=list(row["components"]),
        monitors=list(row["monitors"]),
        created_at=row["created_at"],
        created_by_id=row["created_by_id"],
        cancelled_at=row["cancelled_at"],
        event_id=row["event_id"],
    )


def _maintenance_values(m: Maintenance) -> dict[str, Any]:
    return {
        "guild_id": m.guild_id,
        "code": m.code,
        "title": m.title,
        "starts_at": m.starts_at,
        "ends_at": m.ends_at,
        "components": list(m.components),
        "monitors": list(m.monitors),
        "created_at": m.created_at,
        "created_by_id": m.created_by_id,
        "cancelled_at": m.cancelled_at,
        "event_id": m.event_id,
    }


class SqlStatusPageRepository(SqlRepository):
    """The public read model; the web server reads it, only the publishing use cases write."""

    async def get(self, guild_id: int) -> StatusPage | None:
        rows = await self._execute(select(status_pages).where(status_pages.c.guild_id == guild_id))
        row = rows.mappings().first()
        return _page(row) if row else None

    async def by_slug(self, slug: str) -> StatusPage | None:
        rows = await self._execute(select(status_pages).where(status_pages.c.slug == slug))
        row = rows.mappings().first()
        return _page(row) if row else None

    async def version(self, slug: str) -> int | None:
        statement = select(status_pages.c.version).where(
            (status_pages.c.slug == slug) & status_pages.c.enabled
        )
        return (await self._execute(statement)).scalar_one_or_none()

    async def save(self, page: StatusPage) -> None:
        values = {
            "slug": page.slug,
            "title": page.title,
            "enabled": page.enabled,
            "announcements_channel_id": page.announcements_channel_id,
            "version": page.version,
            "updated_at": page.updated_at,
        }
        insert = self._upsert(status_pages).values(
            guild_id=page.guild_id, created_at=page.created_at, **values
        )
        await self._execute(
            insert.on_conflict_do_update(index_elements=[status_pages.c.guild_id], set_=values)
        )

    async def components(self, guild_id: int) -> builtins.list[Component]:
        rows = await self._execute(
            select(status_components)
            .where(status_components.c.guild_id == guild_id)
            .order_by(status_components.c.position, status_components.c.id)
        )
        return [_component(r) for r in rows.mappings()]

    async def save_component(self, component: Component) -> None:
        values = {
            "guild_id": component.guild_id,
            "code": component.code,
            "name": component.name,
            "group_name": component.group,
            "state": component.state.value,
            "held_by": component.held_by,
            "position": component.position,
            "created_at": component.created_at,
            "updated_at": component.updated_at,
        }
        if component.id is None:
            component.id = await self._insert_returning_id(status_components, values)
        else:
            await self._update_by_id(status_components, component.id, values, "component")

    async def remove_component(self, component_id: int) -> None:
        await self._execute(
            status_components.delete().where(status_components.c.id == component_id)
        )

    async def incident(self, incident_id: int) -> PublicIncident | None:
        rows = await self._execute(
            select(public_incidents).where(public_incidents.c.incident_id == incident_id)
        )
        row = rows.mappings().first()
        if row is None:
            return None
        [public] = await self._with_updates([_incident(row)])
        return public

    async def incidents(self, guild_id: int, since: datetime) -> builtins.list[PublicIncident]:
        t = public_incidents
        rows = await self._execute(
            select(t)
            .where(
                (t.c.guild_id == guild_id)
                & or_(t.c.resolved_at.is_(None), t.c.created_at >= since, t.c.resolved_at >= since)
            )
            .order_by(t.c.created_at.desc(), t.c.id.desc())
        )
        return await self._with_updates([_incident(r) for r in rows.mappings()])

    async def _with_updates(
        self, found: builtins.list[PublicIncident]
    ) -> builtins.list[PublicIncident]:
        """Load every incident's updates in one query, newest first."""
        by_id = {p.id: p for p in found}
        if by_id:
            rows = await self._execute(
                select(public_updates)
                .where(public_updates.c.public_incident_id.in_(list(by_id)))
                .order_by(public_updates.c.created_at.desc(), public_updates.c.id.desc())
            )
            for row in rows.mappings():
                by_id[row["public_incident_id"]].updates.append(_update(row))
        return found

    async def save_incident(self, incident: PublicIncident) -> None:
        values = {
            "guild_id": incident.guild_id,
            "incident_id": incident.incident_id,
            "code": incident.code,
            "title": incident.title,
            "impact": incident.impact.value,
            "status": incident.status.value,
            "components": list(incident.components),
            "created_at": incident.created_at,
            "updated_at": incident.updated_at,
            "resolved_at": incident.resolved_at,
        }
        if incident.id is None:
            incident.id = await self._insert_returning_id(public_incidents, values)
        else:
            await self._update_by_id(public_incidents, incident.id, values, "public incident")

    async def add_update(self, update: PublicUpdate) -> None:
        guild = select(public_incidents.c.guild_id).where(
            public_incidents.c.id == update.public_incident_id
        )
        guild_id = (await self._execute(guild)).scalar_one()
        update.id = await self._insert_returning_id(
            public_updates,
            {
                "public_incident_id": update.public_incident_id,
                "guild_id": guild_id,
                "status": update.status.value,
                "body": update.body,
                "created_at": update.created_at,
            },
        )

    async def unannounced(self, guild_id: int, after: datetime) -> builtins.list[PublicUpdate]:
        rows = await self._execute(
            select(public_updates)
            .where(
                (public_updates.c.guild_id == guild_id)
                & public_updates.c.announced_message_id.is_(None)
                & (public_updates.c.created_at >= after)
            )
            .order_by(public_updates.c.created_at, public_updates.c.id)
        )
        return [_update(r) for r in rows.mappings()]

    async def announced_since(self, channel_id: int, since: datetime) -> int:
        t = public_updates
        statement = select(func.count(func.distinct(t.c.announced_message_id))).where(
            (t.c.announced_channel_id == channel_id) & (t.c.announced_at >= since)
        )
        return int((await self._execute(statement)).scalar_one())

    async def mark_announced(
        self, update_ids: Collection[int], channel_id: int, message_id: int, at: datetime
    ) -> None:
        await self._execute(
            public_updates.update()
            .where(public_updates.c.id.in_(list(update_ids)))
            .values(
                announced_channel_id=channel_id, announced_message_id=message_id, announced_at=at
            )
        )

    async def add_maintenance(self, maintenance: Maintenance) -> None:
        maintenance.id = await self._insert_returning_id(
            maintenances, _maintenance_values(maintenance)
        )

    async def maintenance(self, maintenance_id: int) -> Maintenance | None:
        rows = await self._execute(select(maintenances).where(maintenances.c.id == maintenance_id))
        row = rows.mappings().first()
        return _maintenance(row) if row else None

    async def maintenances(self, guild_id: int, since: datetime) -> builtins.list[Maintenance]:
        t = maintenances
        rows = await self._execute(
            select(t)
            .where((t.c.guild_id == guild_id) & t.c.cancelled_at.is_(None) & (t.c.ends_at > since))
            .order_by(t.c.starts_at, t.c.id)
        )
        return [_maintenance(r) for r in rows.mappings()]

    async def covering(
        self, guild_ids: Collection[int], at: datetime
    ) -> builtins.list[Maintenance]:
        t = maintenances
        rows = await self._execute(
            select(t).where(
                t.c.guild_id.in_(list(guild_ids))
                & t.c.cancelled_at.is_(None)
                & (t.c.starts_at <= at)
                & (t.c.ends_at > at)
            )
        )
        return [_maintenance(r) for r in rows.mappings()]

    async def save_maintenance(self, maintenance: Maintenance) -> None:
        await self._update_by_id(
            maintenances, maintenance.id, _maintenance_values(maintenance), "maintenance"
        )

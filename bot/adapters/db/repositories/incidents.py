"""Guild configuration and incidents (with their role assignments)."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any

from sqlalchemy import RowMapping, or_, select

from bot.adapters.db.repositories._base import (
    SqlRepository,
    person_values,
    required_person,
)
from bot.adapters.db.tables import guild_configs, incidents, role_assignments
from bot.core.model import (
    GuildConfig,
    Incident,
    IncidentRole,
    RoleAssignment,
    Severity,
    Status,
)


def guild_values(config: GuildConfig) -> dict[str, Any]:
    """GuildConfig → row; the update cadence is stored keyed by severity value."""
    return {
        "guild_id": config.guild_id,
        "responder_role_id": config.responder_role_id,
        "oncall_role_id": config.oncall_role_id,
        "escalation_role_id": config.escalation_role_id,
        "alerts_channel_id": config.alerts_channel_id,
        "operating_room_id": config.operating_room_id,
        "incident_category_id": config.incident_category_id,
        "timezone": config.timezone,
        "escalation_minutes": config.escalation_minutes,
        "escalation_repeats": config.escalation_repeats,
        "update_cadence": {
            Severity(severity).value: minutes
            for severity, minutes in config.update_cadence_minutes.items()
        },
        "postmortem_template": config.postmortem_template,
    }


def guild_from_row(row: RowMapping) -> GuildConfig:
    """Row → GuildConfig."""
    return GuildConfig(
        guild_id=row["guild_id"],
        responder_role_id=row["responder_role_id"],
        oncall_role_id=row["oncall_role_id"],
        escalation_role_id=row["escalation_role_id"],
        alerts_channel_id=row["alerts_channel_id"],
        operating_room_id=row["operating_room_id"],
        incident_category_id=row["incident_category_id"],
        timezone=row["timezone"],
        escalation_minutes=row["escalation_minutes"],
        escalation_repeats=row["escalation_repeats"],
        update_cadence_minutes={
            Severity(severity): minutes for severity, minutes in row["update_cadence"].items()
        },
        postmortem_template=row["postmortem_template"],
    )


class SqlGuildRepository(SqlRepository):
    """Guild configurations, one row per guild."""

    async def get(self, guild_id: int) -> GuildConfig | None:
        """The stored configuration, or None before `/opsroom setup`."""
        result = await self._execute(
            select(guild_configs).where(guild_configs.c.guild_id == guild_id)
        )
        row = result.mappings().one_or_none()
        return guild_from_row(row) if row else None

    async def save(self, config: GuildConfig) -> None:
        """Insert or update."""
        values = guild_values(config)
        statement = (
            self._upsert(guild_configs)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[guild_configs.c.guild_id],
                set_={k: v for k, v in values.items() if k != "guild_id"},
            )
        )
        await self._execute(statement)


def incident_values(incident: Incident) -> dict[str, Any]:
    """Incident → row (without id and roles)."""
    return {
        "guild_id": incident.guild_id,
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity.value,
        "status": incident.status.value,
        **person_values("declared_by", incident.declared_by),
        "started_at": incident.started_at,
        "detected_at": incident.detected_at,
        "declared_at": incident.declared_at,
        "acknowledged_at": incident.acknowledged_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "summary": incident.summary,
        "latest_update": incident.latest_update,
        "latest_update_at": incident.latest_update_at,
        "channel_id": incident.channel_id,
        "card_message_id": incident.card_message_id,
        "room_message_id": incident.room_message_id,
        "room_thread_id": incident.room_thread_id,
        "milestones_by_hand": ",".join(sorted(incident.by_hand)),
    }


def incident_from_row(row: RowMapping, roles: list[RoleAssignment]) -> Incident:
    """Row (plus its role assignments) → Incident."""
    return Incident(
        id=row["id"],
        guild_id=row["guild_id"],
        number=row["number"],
        title=row["title"],
        severity=Severity(row["severity"]),
        status=Status(row["status"]),
        declared_by=required_person(row, "declared_by"),
        started_at=row["started_at"],
        detected_at=row["detected_at"],
        declared_at=row["declared_at"],
        acknowledged_at=row["acknowledged_at"],
        mitigated_at=row["mitigated_at"],
        resolved_at=row["resolved_at"],
        closed_at=row["closed_at"],
        summary=row["summary"],
        latest_update=row["latest_update"],
        latest_update_at=row["latest_update_at"],
        channel_id=row["channel_id"],
        card_message_id=row["card_message_id"],
        by_hand={name for name in row["milestones_by_hand"].split(",") if name},
        room_message_id=row["room_message_id"],
        room_thread_id=row["room_thread_id"],
        roles=roles,
    )


def role_values(incident_id: int, assignment: RoleAssignment) -> dict[str, Any]:
    """RoleAssignment → row."""
    return {
        "incident_id": incident_id,
        "role": assignment.role.value,
        **person_values("person", assignment.person),
        "assigned_at": assignment.assigned_at,
        "ended_at": assignment.ended_at,
    }


def role_from_row(row: RowMapping) -> RoleAssignment:
    """Row → RoleAssignment."""
    return RoleAssignment(
        id=row["id"],
        role=IncidentRole(row["role"]),
        person=required_person(row, "person"),
        assigned_at=row["assigned_at"],
        ended_at=row["ended_at"],
    )


class SqlIncidentRepository(SqlRepository):
    """Incidents, numbered per guild, with their role assignments stored alongside."""

    async def add(self, incident: Incident) -> None:
        """Store a new incident, setting `id` and the guild's next `number` on it."""
        incident.number = await self._next_number(f"incident:{incident.guild_id}")
        incident.id = await self._insert_returning_id(incidents, incident_values(incident))
        await self._sync_roles(incident.id, incident.roles)

    async def get(self, guild_id: int, number: int) -> Incident | None:
        """The incident `#number` of a guild."""
        return await self._one((incidents.c.guild_id == guild_id) & (incidents.c.number == number))

    async def get_by_id(self, incident_id: int) -> Incident | None:
        """The incident with this id, in any guild."""
        return await self._one(incidents.c.id == incident_id)

    async def by_channel(self, guild_id: int, channel_id: int) -> Incident | None:
        """The incident whose working channel or operating-room thread this is."""
        return await self._one(
            (incidents.c.guild_id == guild_id)
            & or_(incidents.c.channel_id == channel_id, incidents.c.room_thread_id == channel_id)
        )

    async def list(
        self, guild_id: int, statuses: Collection[Status] | None = None
    ) -> list[Incident]:
        """Incidents of a guild, newest first, optionally only those in `statuses`."""
        query = select(incidents).where(incidents.c.guild_id == guild_id)
        if statuses is not None:
            query = query.where(incidents.c.status.in_([s.value for s in statuses]))
        rows = (await self._execute(query.order_by(incidents.c.number.desc()))).mappings().all()
        roles = await self._roles([row["id"] for row in rows])
        return [incident_from_row(row, roles.get(row["id"], [])) for row in rows]

    async def save(self, incident: Incident) -> None:
        """Write changed fields and role assignments (new ones get their `id`)."""
        await self._update_by_id(incidents, incident.id, incident_values(incident), "incident")
        assert incident.id is not None
        await self._sync_roles(incident.id, incident.roles)

    async def _one(self, condition: Any) -> Incident | None:
        """The single incident matching `condition`, roles included."""
        row = (await self._execute(select(incidents).where(condition))).mappings().first()
        if row is None:
            return None
        roles = await self._roles([row["id"]])
        return incident_from_row(row, roles.get(row["id"], []))

    async def _roles(
        self, incident_ids: builtins.list[int]
    ) -> dict[int, builtins.list[RoleAssignment]]:
        """Role assignments of these incidents, in the order they were given."""
        if not incident_ids:
            return {}
        query = (
            select(role_assignments)
            .where(role_assignments.c.incident_id.in_(incident_ids))
            .order_by(role_assignments.c.assigned_at, role_assignments.c.id)
        )
        by_incident: dict[int, builtins.list[RoleAssignment]] = {}
        for row in (await self._execute(query)).mappings():
            by_incident.setdefault(row["incident_id"], []).append(role_from_row(row))
        return by_incident

    async def _sync_roles(self, incident_id: int, roles: builtins.list[RoleAssignment]) -> None:
        """End what ended first, then insert what is new: a hand-over never has two commanders."""
        existing = [a for a in roles if a.id is not None]
        if existing:
            query = select(role_assignments.c.id, role_assignments.c.ended_at).where(
                role_assignments.c.incident_id == incident_id
            )
            stored = {row.id: row.ended_at for row in await self._execute(query)}
            for assignment in existing:
                if assignment.id in stored and stored[assignment.id] != assignment.ended_at:
                    await self._execute(
                        role_assignments.update()
                        .where(role_assignments.c.id == assignment.id)
                        .values(ended_at=assignment.ended_at)
                    )
        for assignment in roles:
            if assignment.id is None:
                assignment.id = await self._insert_returning_id(
                    role_assignments, role_values(incident_id, assignment)
                )

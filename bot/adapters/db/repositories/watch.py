"""Heartbeat deadlines and watched certificates.

The writes the clock races on are single conditional statements: a miss is claimed only
while the deadline is still passed and unclaimed, and a sweep leases the watches it checks
by moving their next check, so two processes never alert twice for the same thing.
"""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, select

from bot.adapters.db.repositories._base import SqlRepository, person_from, person_values
from bot.adapters.db.tables import cert_watches, heartbeats, webhooks
from bot.core.certs import CertWatch, Problem
from bot.core.heartbeats import Heartbeat

_ACTIVE = webhooks.c.revoked_at.is_(None)


def heartbeat_from_row(row: RowMapping) -> Heartbeat:
    """Row → Heartbeat."""
    return Heartbeat(
        webhook_id=row["webhook_id"],
        guild_id=row["guild_id"],
        every=timedelta(seconds=row["every_seconds"]),
        grace=timedelta(seconds=row["grace_seconds"]),
        created_at=row["created_at"],
        due_at=row["due_at"],
        last_ping_at=row["last_ping_at"],
        missed_at=row["missed_at"],
    )


class SqlHeartbeatRepository(SqlRepository):
    """One row per heartbeat webhook: its period and its deadline."""

    async def add(self, heartbeat: Heartbeat) -> None:
        """Store a new heartbeat (its webhook must exist)."""
        await self._execute(
            heartbeats.insert().values(
                webhook_id=heartbeat.webhook_id,
                guild_id=heartbeat.guild_id,
                every_seconds=int(heartbeat.every.total_seconds()),
                grace_seconds=int(heartbeat.grace.total_seconds()),
                created_at=heartbeat.created_at,
                due_at=heartbeat.due_at,
                last_ping_at=heartbeat.last_ping_at,
                missed_at=heartbeat.missed_at,
            )
        )

    async def get(self, webhook_id: int) -> Heartbeat | None:
        """The heartbeat of this webhook."""
        query = select(heartbeats).where(heartbeats.c.webhook_id == webhook_id)
        row = (await self._execute(query)).mappings().first()
        return heartbeat_from_row(row) if row else None

    async def for_guild(self, guild_id: int) -> builtins.list[Heartbeat]:
        """The guild's heartbeats, revoked webhooks' included."""
        query = (
            select(heartbeats)
            .where(heartbeats.c.guild_id == guild_id)
            .order_by(heartbeats.c.webhook_id)
        )
        return [heartbeat_from_row(r) for r in (await self._execute(query)).mappings()]

    async def ping(self, webhook_id: int, at: datetime) -> Heartbeat | None:
        """Record a ping: the deadline counts from it, the miss (if any) is over."""
        heartbeat = await self.get(webhook_id)
        if heartbeat is None:
            return None
        heartbeat.last_ping_at, heartbeat.missed_at = at, None
        heartbeat.due_at = at + heartbeat.silence
        await self._execute(
            heartbeats.update()
            .where(heartbeats.c.webhook_id == webhook_id)
            .values(last_ping_at=at, due_at=heartbeat.due_at, missed_at=None)
        )
        return heartbeat

    def _active(self) -> Any:
        return select(heartbeats).join(webhooks, webhooks.c.id == heartbeats.c.webhook_id)

    async def due(self, now: datetime, limit: int) -> builtins.list[Heartbeat]:
        """Active heartbeats whose deadline passed, soonest first."""
        query = (
            self._active()
            .where(_ACTIVE & (heartbeats.c.due_at <= now) & heartbeats.c.missed_at.is_(None))
            .order_by(heartbeats.c.due_at, heartbeats.c.webhook_id)
            .limit(limit)
        )
        return [heartbeat_from_row(r) for r in (await self._execute(query)).mappings()]

    async def claim_missed(self, webhook_id: int, now: datetime) -> bool:
        """Mark missed if the deadline is still passed and not claimed yet."""
        statement = (
            heartbeats.update()
            .where(
                (heartbeats.c.webhook_id == webhook_id)
                & heartbeats.c.missed_at.is_(None)
                & (heartbeats.c.due_at <= now)
            )
            .values(missed_at=now, due_at=None)
        )
        claimed: bool = (await self._execute(statement)).rowcount == 1  # type: ignore[attr-defined]
        return claimed

    async def move_deadline(self, webhook_id: int, due_at: datetime, before: datetime) -> None:
        """Move a deadline still earlier than `before` (a ping meanwhile wins)."""
        await self._execute(
            heartbeats.update()
            .where(
                (heartbeats.c.webhook_id == webhook_id)
                & heartbeats.c.missed_at.is_(None)
                & (heartbeats.c.due_at < before)
            )
            .values(due_at=due_at)
        )

    async def deadlines(self, limit: int) -> builtins.list[tuple[int, datetime]]:
        """The soonest deadlines of active heartbeats."""
        query = (
            select(heartbeats.c.webhook_id, heartbeats.c.due_at)
            .join(webhooks, webhooks.c.id == heartbeats.c.webhook_id)
            .where(_ACTIVE & heartbeats.c.due_at.is_not(None))
            .order_by(heartbeats.c.due_at, heartbeats.c.webhook_id)
            .limit(limit)
        )
        return [(int(r.webhook_id), r.due_at) for r in await self._execute(query)]


def watch_values(watch: CertWatch) -> dict[str, Any]:
    """CertWatch → row (without id)."""
    return {
        "guild_id": watch.guild_id,
        "host": watch.host,
        "port": watch.port,
        "owner": watch.owner,
        "runbook": watch.runbook,
        "created_at": watch.created_at,
        **person_values("created_by", watch.created_by),
        "next_check_at": watch.next_check_at,
        "last_checked_at": watch.last_checked_at,
        "not_after": watch.not_after,
        "problem": watch.problem.value if watch.problem else None,
        "detail": watch.detail,
        "failures": watch.failures,
    }


def watch_from_row(row: RowMapping) -> CertWatch:
    """Row → CertWatch."""
    return CertWatch(
        id=row["id"],
        guild_id=row["guild_id"],
        host=row["host"],
        port=row["port"],
        owner=row["owner"],
        runbook=row["runbook"],
        created_at=row["created_at"],
        created_by=person_from(row, "created_by"),
        next_check_at=row["next_check_at"],
        last_checked_at=row["last_checked_at"],
        not_after=row["not_after"],
        problem=Problem(row["problem"]) if row["problem"] else None,
        detail=row["detail"],
        failures=row["failures"],
    )


class SqlCertWatchRepository(SqlRepository):
    """Watched `host:port`s and what their last check found."""

    async def add(self, watch: CertWatch) -> None:
        """Store a new watch, setting its id (a duplicate host:port is a ConflictError)."""
        statement = cert_watches.insert().values(**watch_values(watch)).returning(cert_watches.c.id)
        watch.id = int((await self._execute(statement)).scalar_one())

    async def get(self, watch_id: int) -> CertWatch | None:
        """One watch by id."""
        return await self._one(select(cert_watches).where(cert_watches.c.id == watch_id))

    async def find(self, guild_id: int, host: str, port: int) -> CertWatch | None:
        """The guild's watch of this host and port."""
        return await self._one(
            select(cert_watches).where(
                (cert_watches.c.guild_id == guild_id)
                & (cert_watches.c.host == host)
                & (cert_watches.c.port == port)
            )
        )

    async def for_guild(self, guild_id: int) -> builtins.list[CertWatch]:
        """The guild's watches, oldest first."""
        query = (
            select(cert_watches)
            .where(cert_watches.c.guild_id == guild_id)
            .order_by(cert_watches.c.id)
        )
        return await self._all(query)

    async def remove(self, watch_id: int) -> None:
        """Forget a watch (its past alerts stay)."""
        await self._execute(cert_watches.delete().where(cert_watches.c.id == watch_id))

    async def save(self, watch: CertWatch) -> None:
        """Write what a check found."""
        assert watch.id is not None
        await self._execute(
            cert_watches.update().where(cert_watches.c.id == watch.id).values(**watch_values(watch))
        )

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> builtins.list[CertWatch]:
        """Due watches, leased until `lease_until` (one statement each, conditional)."""
        query = (
            select(cert_watches)
            .where(cert_watches.c.next_check_at <= now)
            .order_by(cert_watches.c.next_check_at, cert_watches.c.id)
            .limit(limit)
        )
        claimed = []
        for watch in await self._all(query):
            statement = (
                cert_watches.update()
                .where(
                    (cert_watches.c.id == watch.id)
                    & (cert_watches.c.next_check_at == watch.next_check_at)
                )
                .values(next_check_at=lease_until)
            )
            if (await self._execute(statement)).rowcount == 1:  # type: ignore[attr-defined]
                watch.next_check_at = lease_until
                claimed.append(watch)
        return claimed

    async def check_soon(self, guild_id: int, at: datetime) -> None:
        """Every watch of the guild due at `at` at the latest."""
        await self._execute(
            cert_watches.update()
            .where((cert_watches.c.guild_id == guild_id) & (cert_watches.c.next_check_at > at))
            .values(next_check_at=at)
        )

    async def next_checks(self, limit: int) -> builtins.list[tuple[int, datetime]]:
        """The soonest checks."""
        query = (
            select(cert_watches.c.id, cert_watches.c.next_check_at)
            .order_by(cert_watches.c.next_check_at, cert_watches.c.id)
            .limit(limit)
        )
        return [(int(r.id), r.next_check_at) for r in await self._execute(query)]

    async def _one(self, query: Any) -> CertWatch | None:
        row = (await self._execute(query)).mappings().first()
        return watch_from_row(row) if row else None

    async def _all(self, query: Any) -> builtins.list[CertWatch]:
        return [watch_from_row(r) for r in (await self._execute(query)).mappings()]

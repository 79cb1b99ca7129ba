"""Monitor alerts and the webhooks they arrive through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select

from bot.adapters.db.repositories._base import SqlRepository, person_from, person_values
from bot.adapters.db.tables import alerts, incidents, webhooks
from bot.core.alerts import Alert, AlertSource, AlertState
from bot.core.model import OPEN_STATUSES
from bot.core.webhooks import Webhook


def alert_values(alert: Alert) -> dict[str, Any]:
    """Alert → row (without id)."""
    return {
        "guild_id": alert.guild_id,
        "source": alert.source.value,
        "stream_key": alert.stream_key,
        "episode_key": alert.episode_key,
        "monitor": alert.monitor,
        "title": alert.title,
        "state": alert.state.value,
        "started_at": alert.started_at,
        "received_at": alert.received_at,
        "last_seen_at": alert.last_seen_at,
        "severity": alert.severity,
        "details": dict(alert.details),
        "link": alert.link,
        "count": alert.count,
        "acknowledged_at": alert.acknowledged_at,
        **person_values("acknowledged_by", alert.acknowledged_by),
        "resolved_at": alert.resolved_at,
        "incident_id": alert.incident_id,
        "webhook_id": alert.webhook_id,
        "escalation_level": alert.escalation_level,
        "next_escalation_at": alert.next_escalation_at,
        "relay_channel_id": alert.relay_channel_id,
        "relay_message_id": alert.relay_message_id,
    }


def alert_from_row(row: RowMapping) -> Alert:
    """Row → Alert."""
    return Alert(
        id=row["id"],
        guild_id=row["guild_id"],
        source=AlertSource(row["source"]),
        stream_key=row["stream_key"],
        episode_key=row["episode_key"],
        monitor=row["monitor"],
        title=row["title"],
        state=AlertState(row["state"]),
        started_at=row["started_at"],
        received_at=row["received_at"],
        last_seen_at=row["last_seen_at"],
        severity=row["severity"],
        details=dict(row["details"]),
        link=row["link"],
        count=row["count"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=person_from(row, "acknowledged_by"),
        resolved_at=row["resolved_at"],
        incident_id=row["incident_id"],
        webhook_id=row["webhook_id"],
        escalation_level=row["escalation_level"],
        next_escalation_at=row["next_escalation_at"],
        relay_channel_id=row["relay_channel_id"],
        relay_message_id=row["relay_message_id"],
    )


def _stream(guild_id: int, source: AlertSource, stream_key: str) -> Any:
    """The condition naming one monitored stream."""
    return (
        (alerts.c.guild_id == guild_id)
        & (alerts.c.source == AlertSource(source).value)
        & (alerts.c.stream_key == stream_key)
    )


class SqlAlertRepository(SqlRepository):
    """Alert episodes; the schema allows one firing episode per stream without episode keys."""

    async def add(self, alert: Alert) -> None:
        """Store a new alert, setting its `id`."""
        alert.id = await self._insert_returning_id(alerts, alert_values(alert))

    async def get(self, alert_id: int) -> Alert | None:
        """The alert with this id, in any guild."""
        return await self._first(select(alerts).where(alerts.c.id == alert_id))

    async def find_episode(
        self, guild_id: int, source: AlertSource, stream_key: str, episode_key: str
    ) -> Alert | None:
        """The alert for one explicitly named episode of a stream."""
        query = select(alerts).where(
            _stream(guild_id, source, stream_key) & (alerts.c.episode_key == episode_key)
        )
        return await self._first(query)

    async def find_open(self, guild_id: int, source: AlertSource, stream_key: str) -> Alert | None:
        """The stream's firing alert, if one is open (the latest, should there be several)."""
        query = (
            select(alerts)
            .where(
                _stream(guild_id, source, stream_key) & (alerts.c.state == AlertState.FIRING.value)
            )
            .order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
            .limit(1)
        )
        return await self._first(query)

    async def for_incident(self, incident_id: int) -> list[Alert]:
        """Alerts attached to the incident, oldest first."""
        query = (
            select(alerts)
            .where(alerts.c.incident_id == incident_id)
            .order_by(alerts.c.started_at, alerts.c.id)
        )
        return [alert_from_row(row) for row in (await self._execute(query)).mappings()]

    async def attached_incident(
        self, guild_id: int, source: AlertSource, stream_key: str
    ) -> int | None:
        """The open incident that an earlier alert of this stream was attached to, if any."""
        query = (
            select(incidents.c.id)
            .join(alerts, alerts.c.incident_id == incidents.c.id)
            .where(
                _stream(guild_id, source, stream_key)
                & (incidents.c.guild_id == guild_id)
                & incidents.c.status.in_(sorted(s.value for s in OPEN_STATUSES))
            )
            .order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
            .limit(1)
        )
        found = (await self._execute(query)).scalar_one_or_none()
        return int(found) if found is not None else None

    async def due_escalations(self, now: datetime) -> list[Alert]:
        """Firing, unacknowledged alerts whose next escalation time has come, across guilds."""
        query = (
            select(alerts)
            .where(
                (alerts.c.state == AlertState.FIRING.value)
                & alerts.c.acknowledged_at.is_(None)
                & alerts.c.next_escalation_at.is_not(None)
                & (alerts.c.next_escalation_at <= now)
            )
            .order_by(alerts.c.next_escalation_at, alerts.c.id)
        )
        return [alert_from_row(row) for row in (await self._execute(query)).mappings()]

    async def save(self, alert: Alert) -> None:
        """Write every field of an existing alert."""
        await self._update_by_id(alerts, alert.id, alert_values(alert), "alert")

    async def _first(self, query: Any) -> Alert | None:
        """The first alert a query finds."""
        row = (await self._execute(query)).mappings().first()
        return alert_from_row(row) if row else None


def webhook_values(webhook: Webhook) -> dict[str, Any]:
    """Webhook → row (without id)."""
    return {
        "guild_id": webhook.guild_id,
        "source": webhook.source.value,
        "name": webhook.name,
        "token_hash": webhook.token_hash,
        "created_at": webhook.created_at,
        **person_values("created_by", webhook.created_by),
        "revoked_at": webhook.revoked_at,
        "signing_secret": webhook.signing_secret,
    }


def webhook_from_row(row: RowMapping) -> Webhook:
    """Row → Webhook."""
    return Webhook(
        id=row["id"],
        guild_id=row["guild_id"],
        source=AlertSource(row["source"]),
        name=row["name"],
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        created_by=person_from(row, "created_by"),
        revoked_at=row["revoked_at"],
        signing_secret=row["signing_secret"],
    )


class SqlWebhookRepository(SqlRepository):
    """Webhooks; only token hashes are stored, and each hash is unique."""

    async def add(self, webhook: Webhook) -> None:
        """Store a new webhook, setting its `id`."""
        webhook.id = await self._insert_returning_id(webhooks, webhook_values(webhook))

    async def get(self, guild_id: int, webhook_id: int) -> Webhook | None:
        """The guild's webhook with this id (another guild's is not found)."""
        return await self._first((webhooks.c.guild_id == guild_id) & (webhooks.c.id == webhook_id))

    async def by_hash(self, token_hash: str) -> Webhook | None:
        """The webhook whose token hashes to this, revoked or not."""
        return await self._first(webhooks.c.token_hash == token_hash)

    async def list(self, guild_id: int) -> list[Webhook]:
        """The guild's webhooks in the order they were made."""
        query = select(webhooks).where(webhooks.c.guild_id == guild_id).order_by(webhooks.c.id)
        return [webhook_from_row(row) for row in (await self._execute(query)).mappings()]

    async def save(self, webhook: Webhook) -> None:
        """Write every field of an existing webhook."""
        await self._update_by_id(webhooks, webhook.id, webhook_values(webhook), "webhook")

    async def _first(self, condition: Any) -> Webhook | None:
        """The webhook matching `condition`."""
        row = (await self._execute(select(webhooks).where(condition))).mappings().first()
        return webhook_from_row(row) if row else None

"""Monitor alerts and the webhooks they arrive through."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Result,
    RowMapping,
    Select,
    Text,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.db.repositories._base import SqlRepository, person_from, person_values
from bot.adapters.db.tables import alerts, incidents, webhooks
from bot.core.alerts import Alert, AlertSource, AlertState
from bot.core.errors import NotFoundError
from bot.core.model import OPEN_STATUSES
from bot.core.ports import EpisodeId, StreamId
from bot.core.reminders import Sweep, timer_key
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
        "maintenance_id": alert.maintenance_id,
        "notice": alert.notice,
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
        maintenance_id=row["maintenance_id"],
        notice=bool(row["notice"]),
    )


def _stream(guild_id: int, source: AlertSource, stream_key: str) -> Any:
    """The condition naming one monitored stream."""
    return (
        (alerts.c.guild_id == guild_id)
        & (alerts.c.source == AlertSource(source).value)
        & (alerts.c.stream_key == stream_key)
    )


_RELAY_COLUMNS = ("relay_channel_id", "relay_message_id")


def _saved_values(alert: Alert) -> dict[str, Any]:
    """What `save` writes: every column but the relay ids (only `set_relay` writes those)."""
    values = alert_values(alert)
    for column in _RELAY_COLUMNS:
        del values[column]
    return values


def _by_guild_and_source(
    streams: Collection[StreamId],
) -> dict[tuple[int, str], list[tuple[str, ...]]]:
    """Stream keys grouped by (guild, source), as one-element keys for `_by_keys`."""
    groups: dict[tuple[int, str], set[str]] = {}
    for guild_id, source, stream_key in streams:
        groups.setdefault((guild_id, AlertSource(source).value), set()).add(stream_key)
    return {group: [(key,) for key in sorted(keys)] for group, keys in groups.items()}


_KEYED: dict[str, tuple[Select[Any], tuple[Column[Any], ...]]] = {
    "episodes": (select(alerts), (alerts.c.stream_key, alerts.c.episode_key)),
    # The WHERE of `ix_alerts_stream_firing`, literally: a bound 'firing' would hide it.
    "firing": (
        select(alerts).where(alerts.c.state == literal_column(f"'{AlertState.FIRING.value}'")),
        (alerts.c.stream_key,),
    ),
    # `IS NOT NULL` (implied by the join, but spelled out) picks `ix_alerts_stream_attached`.
    "attached": (
        select(alerts.c.stream_key)
        .join(incidents, alerts.c.incident_id == incidents.c.id)
        .where(
            alerts.c.incident_id.is_not(None)
            & (incidents.c.guild_id == bindparam("guild_id"))
            & incidents.c.status.in_(sorted(s.value for s in OPEN_STATUSES))
        ),
        (alerts.c.stream_key,),
    ),
}
"""Queries over many alert keys at once: (query, the columns a key names)."""


@functools.cache
def _keyed_query(dialect: str, kind: str) -> Select[Any]:
    """`_KEYED[kind]` limited to one guild and source and a list of keys, each key found
    through the (guild, source, stream, episode) unique index; built once per dialect.

    The keys travel as ONE bound value (a JSON array, or one array per column), so the
    statement is the same whatever their number and stays cached and prepared. SQLite reads
    `(…) IN (SELECT … FROM json_each(?))` through the index, which it does not for a list of
    row values. PostgreSQL gets one index probe per key (a LATERAL join fenced by OFFSET 0),
    a plan that stays good before the table has statistics, where a semi-join can turn into
    a nested loop over the whole table.
    """
    query, columns = _KEYED[kind]
    query = query.where(
        (alerts.c.guild_id == bindparam("guild_id")) & (alerts.c.source == bindparam("source"))
    )
    if dialect == "postgresql":
        names = [column.name for column in columns]
        arrays = [bindparam(f"keys_{name}", type_=ARRAY(Text)) for name in names]
        each = func.unnest(*arrays).table_valued(*names).render_derived()
        probe = (
            query.where(and_(*(column == each.c[column.name] for column in columns)))
            .offset(0)
            .lateral()
        )
        return select(probe).select_from(each.join(probe, true()))
    each = func.json_each(bindparam("keys", type_=Text)).table_valued("value")
    picked = [func.json_extract(each.c.value, f"$[{n}]") for n in range(len(columns))]
    return query.where(tuple_(*columns).in_(select(*picked)))


_WILL_ESCALATE = (
    (alerts.c.state == AlertState.FIRING.value)
    & alerts.c.acknowledged_at.is_(None)
    & alerts.c.next_escalation_at.is_not(None)
)
_MAX_ID = select(func.max(alerts.c.id))
_INSERT = alerts.insert()
IDS_PER_QUERY = 900  # under SQLite's old limit of 999 bound parameters
_UPDATE_BY_ID = alerts.update().where(alerts.c.id == bindparam("b_id"))


class SqlAlertRepository(SqlRepository):
    """Alert episodes; the schema allows one firing episode per stream without episode keys.

    Writes note the escalation timers they may have moved in `touched` (every saved alert,
    and new ones that will escalate), which the unit of work hands to the scheduler.
    """

    def __init__(self, session: AsyncSession, touched: set[str] | None = None) -> None:
        super().__init__(session)
        self.touched = touched if touched is not None else set()

    def _touch(self, many: Iterable[Alert], *, new: bool = False) -> None:
        self.touched.update(
            timer_key(Sweep.ESCALATIONS, alert.id)
            for alert in many
            if alert.id is not None and not (new and alert.next_escalation_at is None)
        )

    async def add(self, alert: Alert) -> None:
        """Store a new alert, setting its `id`."""
        alert.id = await self._insert_returning_id(alerts, alert_values(alert))
        self._touch([alert], new=True)

    async def add_many(self, many: Sequence[Alert]) -> None:
        """Store new alerts in one statement, setting their `id`s.

        PostgreSQL returns the ids in parameter order. SQLite cannot promise an order for a
        many-row RETURNING, so the ids are given here: units of work that write hold SQLite's
        write lock from their start (BEGIN IMMEDIATE), so nobody else can take them meanwhile
        (and were that ever wrong, the primary key would refuse, never overwrite).
        """
        if not many:
            return
        rows = [alert_values(alert) for alert in many]
        if self._dialect == "sqlite":
            last = (await self._execute(_MAX_ID)).scalar_one_or_none()
            for number, row in enumerate(rows, start=int(last or 0) + 1):
                row["id"] = number
            await self._execute(_INSERT, rows)
            ids = [row["id"] for row in rows]
        else:
            statement = alerts.insert().returning(alerts.c.id, sort_by_parameter_order=True)
            ids = list((await self._execute(statement, rows)).scalars())
        for alert, alert_id in zip(many, ids, strict=True):
            alert.id = int(alert_id)
        self._touch(many, new=True)

    async def get(self, alert_id: int) -> Alert | None:
        """The alert with this id, in any guild."""
        return await self._first(select(alerts).where(alerts.c.id == alert_id))

    async def get_many(self, alert_ids: Collection[int]) -> list[Alert]:
        """These alerts (those that exist), by id, in one query per thousand ids."""
        wanted = sorted(set(alert_ids))
        found: list[Alert] = []
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start : start + IDS_PER_QUERY]
            query = select(alerts).where(alerts.c.id.in_(chunk)).order_by(alerts.c.id)
            found += [alert_from_row(row) for row in (await self._execute(query)).mappings()]
        return found

    async def find_episode(
        self, guild_id: int, source: AlertSource, stream_key: str, episode_key: str
    ) -> Alert | None:
        """The alert for one explicitly named episode of a stream."""
        query = select(alerts).where(
            _stream(guild_id, source, stream_key) & (alerts.c.episode_key == episode_key)
        )
        return await self._first(query)

    async def find_episodes(self, episodes: Collection[EpisodeId]) -> list[Alert]:
        """The stored alerts of these episodes, in any order (one query per guild and source)."""
        groups: dict[tuple[int, str], list[tuple[str, ...]]] = {}
        for guild_id, source, stream_key, episode_key in episodes:
            key = (guild_id, AlertSource(source).value)
            groups.setdefault(key, []).append((stream_key, episode_key))
        found: list[Alert] = []
        for (guild_id, source), keys in groups.items():
            result = await self._by_keys("episodes", guild_id, source, keys)
            found += [alert_from_row(row) for row in result.mappings()]
        return found

    async def find_firing(self, streams: Collection[StreamId]) -> list[Alert]:
        """Every firing alert of these streams, in any order (one query per guild and source)."""
        found: list[Alert] = []
        for (guild_id, source), keys in _by_guild_and_source(streams).items():
            result = await self._by_keys("firing", guild_id, source, keys)
            found += [alert_from_row(row) for row in result.mappings()]
        return found

    async def _by_keys(
        self, kind: str, guild_id: int, source: str, keys: list[tuple[str, ...]]
    ) -> Result[Any]:
        """Run one of the `_KEYED` queries for the guild's alerts of `source` and these keys."""
        dialect = self._dialect
        params: dict[str, Any] = {"guild_id": guild_id, "source": source}
        if dialect == "postgresql":
            for n, column in enumerate(_KEYED[kind][1]):
                params[f"keys_{column.name}"] = [key[n] for key in keys]
        else:
            params["keys"] = json.dumps(keys)
        return await self._execute(_keyed_query(dialect, kind), params)

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

    async def in_maintenance(self, maintenance_id: int) -> list[Alert]:
        """Firing alerts kept quiet by this maintenance window."""
        query = select(alerts).where(
            (alerts.c.maintenance_id == maintenance_id) & (alerts.c.state == "firing")
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

    async def streams_with_open_incident(self, streams: Collection[StreamId]) -> set[StreamId]:
        """Those of `streams` for which `attached_incident` finds an incident (one query per
        guild and source)."""
        found: set[StreamId] = set()
        for (guild_id, source), keys in _by_guild_and_source(streams).items():
            result = await self._by_keys("attached", guild_id, source, keys)
            found.update((guild_id, AlertSource(source), key) for key in result.scalars())
        return found

    async def due_escalations(self, now: datetime, limit: int | None = None) -> list[Alert]:
        """Firing, unacknowledged alerts whose next escalation time has come, across guilds,
        soonest first (the first `limit` of them, if given)."""
        query = (
            select(alerts)
            .where(
                (alerts.c.state == AlertState.FIRING.value)
                & alerts.c.acknowledged_at.is_(None)
                & alerts.c.next_escalation_at.is_not(None)
                & (alerts.c.next_escalation_at <= now)
            )
            .order_by(alerts.c.next_escalation_at, alerts.c.id)
            .limit(limit)
        )
        return [alert_from_row(row) for row in (await self._execute(query)).mappings()]

    async def escalation_times(self, limit: int) -> list[tuple[int, datetime]]:
        """(alert id, next escalation time) of the `limit` soonest pending escalations."""
        query = (
            select(alerts.c.id, alerts.c.next_escalation_at)
            .where(_WILL_ESCALATE)
            .order_by(alerts.c.next_escalation_at, alerts.c.id)
            .limit(limit)
        )
        return [(int(row.id), row.next_escalation_at) for row in await self._execute(query)]

    async def escalation_times_of(self, alert_ids: Collection[int]) -> list[tuple[int, datetime]]:
        """(alert id, next escalation time) of those of these alerts that will escalate."""
        if not alert_ids:
            return []
        query = select(alerts.c.id, alerts.c.next_escalation_at).where(
            alerts.c.id.in_(sorted(alert_ids)) & _WILL_ESCALATE
        )
        return [(int(row.id), row.next_escalation_at) for row in await self._execute(query)]

    async def by_relay_message(self, guild_id: int, message_id: int) -> list[Alert]:
        """The guild's alerts shown by one Discord message (a card or a digest), by id."""
        query = (
            select(alerts)
            .where((alerts.c.guild_id == guild_id) & (alerts.c.relay_message_id == message_id))
            .order_by(alerts.c.id)
        )
        return [alert_from_row(row) for row in (await self._execute(query)).mappings()]

    async def unshown(self, guild_id: int) -> list[int]:
        """Ids of the guild's alerts never posted (no channel recorded), by id."""
        query = (
            select(alerts.c.id)
            .where((alerts.c.guild_id == guild_id) & alerts.c.relay_channel_id.is_(None))
            .order_by(alerts.c.id)
        )
        return list((await self._execute(query)).scalars())

    async def set_relay(
        self, alert_ids: Collection[int], channel_id: int, message_id: int | None
    ) -> None:
        """Record the message showing these alerts, writing those two columns only."""
        wanted = sorted(set(alert_ids))
        for start in range(0, len(wanted), IDS_PER_QUERY):
            await self._execute(
                alerts.update()
                .where(alerts.c.id.in_(wanted[start : start + IDS_PER_QUERY]))
                .values(relay_channel_id=channel_id, relay_message_id=message_id)
            )

    async def save(self, alert: Alert) -> None:
        """Write every field of an existing alert but the relay ids.

        Only `set_relay` writes those: a unit of work that read the alert before the relay
        posted its message (the webhook writer, on PostgreSQL) must not erase them, or the
        alert would be posted a second time.
        """
        await self._update_by_id(alerts, alert.id, _saved_values(alert), "alert")
        self._touch([alert])

    async def save_many(self, many: Sequence[Alert]) -> None:
        """`save` each, in one driver call."""
        if not many:
            return
        rows = []
        for alert in many:
            if alert.id is None:
                raise ValueError("cannot save an alert that was never added")
            rows.append({"b_id": alert.id, **_saved_values(alert)})
        result = await self._execute(_UPDATE_BY_ID, rows)
        dialect = self._session.get_bind().dialect
        if dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):  # type: ignore[attr-defined]
            raise NotFoundError("That alert no longer exists.")
        self._touch(many)

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
        "signature_header": webhook.signature_header,
        "timestamp_header": webhook.timestamp_header,
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
        signature_header=row["signature_header"],
        timestamp_header=row["timestamp_header"],
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

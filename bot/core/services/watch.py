"""Watch use cases: heartbeat pings and misses, certificate watches and their checks.

Both turn what they notice into ordinary alert signals and hand them to `ingest_signals`,
the path every webhook takes, so their alerts relay, escalate, page and follow open
incidents exactly like a monitor's.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from datetime import datetime, timedelta

from bot.core import certs
from bot.core.alerts import Alert, AlertSource, SignalAction
from bot.core.certs import CertCheck, CertWatch, Problem
from bot.core.errors import ConflictError, NotFoundError, ValidationError
from bot.core.heartbeats import Heartbeat, missed_signal, restart_deadline
from bot.core.model import OPEN_STATUSES, EntryKind, EntrySource, Member
from bot.core.permissions import ensure_can_change
from bot.core.ports import CertificateProbe, Clock, StreamId, UnitOfWork, UnitOfWorkFactory
from bot.core.services._base import Service, record
from bot.core.services.alerts import ingest_signals
from bot.core.services.guilds import end_silence
from bot.core.webhooks import Webhook

log = logging.getLogger(__name__)

BATCH = 100
LEASE = timedelta(minutes=5)  # a claimed watch is checked again after this if the check dies
CONCURRENT_CHECKS = 8
MAX_WATCHES = 200  # per guild: each is a TLS connection every few hours


class HeartbeatService(Service):
    """Pings move a heartbeat's deadline; the clock turns a passed deadline into an alert."""

    async def ping(self, webhook: Webhook) -> Heartbeat | None:
        """A ping: the deadline counts from now and an open "missed" alert resolves."""
        assert webhook.id is not None
        async with self._uow_factory() as uow:
            now = self._clock.now()
            heartbeat = await uow.heartbeats.ping(webhook.id, now)
            if heartbeat is not None:
                # Always offered: ingest ignores it when nothing is open, and a miss claimed by
                # a sweep racing this ping is resolved here rather than left open.
                await end_silence(uow, webhook, now)
            await uow.commit()
            return heartbeat

    async def fire_due(self) -> list[Heartbeat]:
        """Open a "missed" alert for every heartbeat whose deadline passed (once each)."""
        fired: list[Heartbeat] = []
        while True:
            async with self._uow_factory() as uow:
                now = self._clock.now()
                due = await uow.heartbeats.due(now, BATCH)
                for heartbeat in due:
                    webhook = await uow.webhooks.get(heartbeat.guild_id, heartbeat.webhook_id)
                    if webhook is None or not await uow.heartbeats.claim_missed(
                        heartbeat.webhook_id, now
                    ):
                        continue
                    signal = missed_signal(heartbeat, webhook.name)
                    await ingest_signals(uow, webhook, [signal], now)
                    fired.append(heartbeat)
                await uow.commit()
            if len(due) < BATCH:
                return fired

    async def restart(self) -> int:
        """At start: deadlines that passed while Opsroom was down get their grace again from
        now, so senders that retried against a dead server can catch up. Returns how many."""
        async with self._uow_factory() as uow:
            started = self._clock.now()
            moved = 0
            for heartbeat in await uow.heartbeats.due(started, 100_000):
                due_at = restart_deadline(heartbeat, started)
                if due_at is not None:
                    await uow.heartbeats.move_deadline(heartbeat.webhook_id, due_at, started)
                    moved += 1
            await uow.commit()
        if moved:
            log.info("%d heartbeat(s) were due while Opsroom was down; they get their grace", moved)
        return moved

    async def for_guild(self, guild_id: int) -> dict[int, Heartbeat]:
        """The guild's heartbeats by webhook id (for `/opsroom webhooks`)."""
        async with self._uow_factory() as uow:
            return {h.webhook_id: h for h in await uow.heartbeats.for_guild(guild_id)}


class UnconfiguredProbe:
    """The probe of a process built without one: every check says so."""

    async def check(self, host: str, port: int) -> CertCheck:
        return CertCheck(None, Problem.UNREACHABLE, "certificate checks are not configured")


def _pseudo_webhook(watch: CertWatch, now: datetime) -> Webhook:
    """Certificate alerts have no webhook; ingest needs only the guild and a name."""
    return Webhook(
        guild_id=watch.guild_id,
        source=AlertSource.CERTIFICATE,
        name=f"watch {watch.where}",
        token_hash="",
        created_at=now,
    )


def _streams(watch: CertWatch) -> list[StreamId]:
    return [
        (watch.guild_id, AlertSource.CERTIFICATE, certs.stream_key(watch, s)) for s in certs.STAGES
    ]


def _stage(alert: Alert) -> str:
    """The stage a certificate alert is for (its stream key is `watch id:stage`)."""
    return alert.stream_key.split(":", 1)[1]


def _text(value: str | None, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = " ".join(value.split())
    if len(value) > certs.MAX_FIELD:
        raise ValidationError(f"The {what} is {len(value)} characters; keep it under 200.")
    return value


class CertWatchService(Service):
    """`/watch cert|list|remove`, and the clock's checks."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, probe: CertificateProbe | None = None
    ) -> None:
        super().__init__(uow_factory, clock)
        self.probe: CertificateProbe = probe or UnconfiguredProbe()

    async def add(
        self,
        guild_id: int,
        actor: Member,
        host: str,
        port: int | None = None,
        owner: str | None = None,
        runbook: str | None = None,
    ) -> tuple[CertWatch, CertCheck]:
        """Watch a host's certificate, checked at once; a private address is refused."""
        async with self._uow_factory() as uow:
            ensure_can_change(actor, await uow.guilds.get(guild_id))
        name, number = certs.clean_target(host, port)
        owner, runbook = _text(owner, "owner"), _text(runbook, "runbook")
        async with self._uow_factory() as uow:
            found = await uow.cert_watches.find(guild_id, name, number)
            if found is not None:
                raise ConflictError(f"{found.where} is already watched (watch {found.id}).")
            if len(await uow.cert_watches.for_guild(guild_id)) >= MAX_WATCHES:
                raise ValidationError(f"A server can watch at most {MAX_WATCHES} certificates.")
        check = await self.probe.check(name, number)
        if check.problem is Problem.REFUSED:
            raise ValidationError(f"Not watched: {check.detail}")
        now = self._clock.now()
        watch = CertWatch(
            guild_id=guild_id,
            host=name,
            port=number,
            owner=owner,
            runbook=runbook,
            created_at=now,
            created_by=actor.person,
            next_check_at=now,
        )
        async with self._uow_factory() as uow:
            await uow.cert_watches.add(watch)
            await self._apply(uow, watch, check, now)
            await uow.commit()
        return watch, check

    async def list(self, guild_id: int) -> list[CertWatch]:
        """The guild's watches, oldest first."""
        async with self._uow_factory() as uow:
            return await uow.cert_watches.for_guild(guild_id)

    async def remove(self, guild_id: int, actor: Member, watch_id: int) -> CertWatch:
        """Stop watching; its open alerts resolve (nobody would ever see them end)."""
        async with self._uow_factory() as uow:
            ensure_can_change(actor, await uow.guilds.get(guild_id))
            watch = await uow.cert_watches.get(watch_id)
            if watch is None or watch.guild_id != guild_id:
                raise NotFoundError(f"There is no certificate watch {watch_id} in this server.")
            now = self._clock.now()
            firing = await uow.alerts.find_firing(_streams(watch))
            signals = [certs.signal(watch, _stage(a), SignalAction.RESOLVE, now) for a in firing]
            if signals:
                await ingest_signals(uow, _pseudo_webhook(watch, now), signals, now)
            await uow.cert_watches.remove(watch_id)
            await uow.commit()
            return watch

    async def check_due(self) -> builtins.list[CertWatch]:
        """Check every watch whose time has come (off the loop, several at a time)."""
        async with self._uow_factory() as uow:
            now = self._clock.now()
            due = await uow.cert_watches.claim_due(now, now + LEASE, BATCH)
            await uow.commit()
        if not due:
            return []
        gate = asyncio.Semaphore(CONCURRENT_CHECKS)

        async def one(watch: CertWatch) -> CertCheck:
            async with gate:
                try:
                    return await self.probe.check(watch.host, watch.port)
                except Exception as exc:  # a probe bug must not stop the other checks
                    log.exception("checking %s failed", watch.where)
                    return CertCheck(None, Problem.UNREACHABLE, f"the check failed: {exc}")

        results = await asyncio.gather(*(one(w) for w in due))
        for watch, check in zip(due, results, strict=True):
            async with self._uow_factory() as uow:
                current = await uow.cert_watches.get(watch.id or 0)
                if current is None:  # removed while it was being checked
                    continue
                await self._apply(uow, current, check, self._clock.now())
                await uow.commit()
        return due

    async def _apply(
        self, uow: UnitOfWork, watch: CertWatch, check: CertCheck, now: datetime
    ) -> None:
        """Record a check: alerts opened and resolved, the next check, the incident post."""
        firing = {_stage(a) for a in await uow.alerts.find_firing(_streams(watch))}
        signals = certs.judge(watch, check, now, firing)
        await uow.cert_watches.save(watch)
        if signals:
            await ingest_signals(uow, _pseudo_webhook(watch, now), signals, now)
        if certs.expiring_soon(watch, now):
            await self._tell_incidents(uow, watch, now)

    async def _tell_incidents(self, uow: UnitOfWork, watch: CertWatch, now: datetime) -> None:
        """Put a certificate about to expire on every open incident's timeline, once per
        incident and alert (the timeline entry names the alert)."""
        urgent = [
            a
            for a in await uow.alerts.find_firing(_streams(watch))
            if _stage(a) in certs.ESCALATING
        ]
        if not urgent:
            return
        alert = max(urgent, key=lambda a: a.id or 0)
        for incident in await uow.incidents.list(watch.guild_id, OPEN_STATUSES):
            assert incident.id is not None
            entries = await uow.timeline.list(incident.id)
            if any(e.alert_id == alert.id for e in entries):
                continue
            await record(
                uow,
                incident,
                kind=EntryKind.ALERT,
                source=EntrySource.ALERT,
                text=certs.incident_text(watch, now),
                at=now,
                now=now,
                author=None,
                alert_id=alert.id,
                jump_url=alert.link,
            )


async def incident_moved(uow: UnitOfWork, guild_id: int, now: datetime) -> None:
    """An incident opened or resolved: check the guild's certificates now (one renewed or
    broken during an outage is the one nobody looks at)."""
    await uow.cert_watches.check_soon(guild_id, now)

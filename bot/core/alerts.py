"""Monitor alerts: what a parsed notification says, and the identity, dedupe and escalation rules.

Identity. Every source names a *stream* — the thing being watched: an
Alertmanager/Grafana fingerprint, an UptimeRobot monitor id, an Events v2 dedup_key. Within a
stream an *episode* is one firing-to-resolved stretch:

- sources that name the episode (Alertmanager and Grafana: `startsAt`) give an explicit
  episode key, so a late or repeated delivery of an old episode never reopens it;
- sources that do not (UptimeRobot, Events v2) mean "the episode open now": a trigger while
  one is open repeats it, a trigger after resolve opens a new one, and an acknowledge or
  resolve with nothing open is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.errors import ConflictError
from bot.core.model import GuildConfig, Person


class AlertSource(StrEnum):
    """The webhook dialects Opsroom understands."""

    UPTIMEROBOT = "uptimerobot"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    EVENTS = "events"
    UPTIMEKUMA = "uptimekuma"
    HEARTBEAT = "heartbeat"  # a dead man's switch: pings are its webhook, silence its alert
    CERTIFICATE = "certificate"  # `/watch cert`: the bot's own TLS checks, no webhook


WEBHOOK_SOURCES = tuple(s for s in AlertSource if s is not AlertSource.CERTIFICATE)
"""The sources a webhook can be made for (certificate alerts come from the bot itself)."""


class AlertState(StrEnum):
    """Firing until the monitor (or a person) says it is over."""

    FIRING = "firing"
    RESOLVED = "resolved"


class SignalAction(StrEnum):
    """What a notification asks for, in Events v2 words."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class AlertSignal:
    """One notification about one alert, as every source's parser normalises it."""

    source: AlertSource
    action: SignalAction
    stream_key: str
    monitor: str
    title: str
    episode_key: str | None = None
    severity: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    escalates: bool = True  # False for notices (e.g. a certificate expiring in 30 days)
    notice: bool = False  # a heads-up with no firing/resolved life (an expiry notice)


@dataclass
class Alert:
    """One episode of one monitored thing, as stored and relayed."""

    guild_id: int
    source: AlertSource
    stream_key: str
    episode_key: str | None
    monitor: str
    title: str
    state: AlertState
    started_at: datetime
    received_at: datetime
    last_seen_at: datetime
    severity: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    link: str | None = None
    count: int = 1
    acknowledged_at: datetime | None = None
    acknowledged_by: Person | None = None
    resolved_at: datetime | None = None
    incident_id: int | None = None
    webhook_id: int | None = None
    escalation_level: int = 0
    next_escalation_at: datetime | None = None
    relay_channel_id: int | None = None
    relay_message_id: int | None = None
    maintenance_id: int | None = None  # fired in this maintenance window: never escalates
    notice: bool = False  # a heads-up (an expiry notice): never "firing" or "resolved"
    id: int | None = None

    @property
    def is_open(self) -> bool:
        """Still firing, acknowledged or not."""
        return self.state is AlertState.FIRING

    @property
    def duration(self) -> timedelta | None:
        """How long it fired, once resolved."""
        return self.resolved_at - self.started_at if self.resolved_at else None


NOTICE_MARK = ":expiry"


def followed_stream(stream_key: str, *, notice: bool) -> str:
    """The stream whose open incident an alert joins: a notice's stream is its monitor's
    followed by `:expiry…` (UptimeRobot's `123:expiry`, `123:expiry:urgent`), so it follows
    its monitor's."""
    if notice and NOTICE_MARK in stream_key:
        return stream_key[: stream_key.rindex(NOTICE_MARK)]
    return stream_key


class Outcome(StrEnum):
    """What one notification did, for the HTTP answer, metrics and the relay."""

    NEW = "new"
    REPEAT = "repeat"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    IGNORED = "ignored"


def apply_signal(
    existing: Alert | None,
    signal: AlertSignal,
    *,
    guild_id: int,
    received_at: datetime,
    config: GuildConfig,
    webhook_id: int | None = None,
) -> tuple[Outcome, Alert | None]:
    """Apply one notification to the alert it identifies (found by the repository) or open one.

    `existing` is the episode named by `signal.episode_key`, or the stream's open episode when
    the source names none. An alert for a missed firing (an explicit episode first seen as
    resolved) is still recorded, so that no alert is ever lost.
    """
    if existing is None:
        explicit = signal.episode_key is not None
        if signal.action is SignalAction.TRIGGER or (
            explicit and signal.action is SignalAction.RESOLVE
        ):
            return Outcome.NEW, _open(signal, guild_id, received_at, config, webhook_id)
        return Outcome.IGNORED, None
    if not existing.is_open:
        return Outcome.IGNORED, existing
    if signal.action is SignalAction.TRIGGER:
        existing.count += 1
        existing.last_seen_at = received_at
        existing.title = signal.title or existing.title
        existing.details = dict(signal.details) or existing.details
        existing.link = signal.link or existing.link
        return Outcome.REPEAT, existing
    if signal.action is SignalAction.ACKNOWLEDGE:
        if existing.acknowledged_at is not None:
            return Outcome.IGNORED, existing
        existing.acknowledged_at = received_at
        existing.next_escalation_at = None
        return Outcome.ACKNOWLEDGED, existing
    resolve(existing, signal.ended_at or received_at)
    existing.last_seen_at = received_at
    return Outcome.RESOLVED, existing


def _open(
    signal: AlertSignal,
    guild_id: int,
    received_at: datetime,
    config: GuildConfig,
    webhook_id: int | None,
) -> Alert:
    """A new alert for a signal with no episode to join."""
    started = min(signal.started_at or received_at, received_at)
    alert = Alert(
        guild_id=guild_id,
        source=signal.source,
        stream_key=signal.stream_key,
        episode_key=signal.episode_key,
        monitor=signal.monitor,
        title=signal.title,
        state=AlertState.FIRING,
        started_at=started,
        received_at=received_at,
        last_seen_at=received_at,
        severity=signal.severity,
        details=dict(signal.details),
        link=signal.link,
        webhook_id=webhook_id,
        notice=signal.notice,
        next_escalation_at=(
            received_at + timedelta(minutes=config.escalation_minutes) if signal.escalates else None
        ),
    )
    if signal.action is SignalAction.RESOLVE:
        resolve(alert, signal.ended_at or received_at)
    return alert


def resolve(alert: Alert, at: datetime) -> None:
    """Mark the episode over; escalation stops with it."""
    alert.state = AlertState.RESOLVED
    alert.resolved_at = max(at, alert.started_at)
    alert.next_escalation_at = None


def acknowledge(alert: Alert, by: Person, at: datetime) -> None:
    """A person takes the alert; escalation stops. Refused when there is nothing to take."""
    if not alert.is_open:
        raise ConflictError("That alert is already resolved.")
    if alert.acknowledged_at is not None:
        who = alert.acknowledged_by.name if alert.acknowledged_by else "its source"
        raise ConflictError(f"That alert was already acknowledged by {who}.")
    alert.acknowledged_at = at
    alert.acknowledged_by = by
    alert.next_escalation_at = None


class EscalationTarget(StrEnum):
    """Whom an escalation pings."""

    ONCALL = "oncall"
    ESCALATION = "escalation"


def escalate(alert: Alert, config: GuildConfig, now: datetime) -> EscalationTarget | None:
    """Advance the alert's escalation if it is due, returning whom to ping.

    An unacknowledged firing alert pings the on-call role after `escalation_minutes`, then
    again every `escalation_minutes` up to `escalation_repeats` pings, then the escalation
    role once; after that it stays quiet.
    """
    due = alert.next_escalation_at
    if due is None or now < due or not alert.is_open or alert.acknowledged_at is not None:
        return None
    alert.escalation_level += 1
    target = escalation_target(alert, config)
    if target is EscalationTarget.ONCALL:
        alert.next_escalation_at = now + timedelta(minutes=config.escalation_minutes)
    else:
        alert.next_escalation_at = None
    return target


def escalation_target(alert: Alert, config: GuildConfig) -> EscalationTarget:
    """Whom the alert's latest escalation is for: on-call for the first
    `escalation_repeats` levels, the escalation role after that (the relay pings it)."""
    if alert.escalation_level <= config.escalation_repeats:
        return EscalationTarget.ONCALL
    return EscalationTarget.ESCALATION

"""Heartbeats: a dead man's switch. A sender pings; silence past `every + grace` is an alert.

A heartbeat is a webhook of source `heartbeat` plus a stored deadline (`due_at`). Every ping
moves the deadline to `ping + every + grace` and resolves the open "missed" alert, if any.
When the clock passes the deadline the sweep claims it (at most once, even with several
processes) and opens the alert through the ordinary ingest path, so it relays, escalates and
follows incidents like any monitor's alert. Identity: the stream is the heartbeat (its
webhook id), the episode is the silence (implicit: the open one). A missed heartbeat has no
deadline until it is pinged again, so one silence is one alert.

A restart gives every deadline that passed while Opsroom was down the heartbeat's grace
again, counted from the start (`restart_deadline`): senders that retried against a dead
server get a chance to get through before anyone is paged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.errors import ValidationError
from bot.core.timeparse import format_duration, parse_duration
from bot.core.webhooks import Webhook

DEFAULT_GRACE = timedelta(minutes=1)
MIN_EVERY = timedelta(seconds=1)
MAX_EVERY = timedelta(days=31)
MAX_GRACE = timedelta(days=7)


@dataclass
class Heartbeat:
    """The deadline side of a heartbeat webhook (the webhook holds its name and token)."""

    webhook_id: int
    guild_id: int
    every: timedelta
    grace: timedelta
    created_at: datetime
    due_at: datetime | None  # None while missed: the next ping sets a new deadline
    last_ping_at: datetime | None = None
    missed_at: datetime | None = None

    @property
    def silence(self) -> timedelta:
        """How long without a ping counts as missed."""
        return self.every + self.grace


def schedule_text(every: timedelta, grace: timedelta) -> str:
    """`every 5m, grace 1m`, as lists and alerts show it."""
    period, slack = (format_duration(d.total_seconds()) for d in (every, grace))
    return f"every {period}, grace {slack}"


def parse_schedule(every: str, grace: str | None) -> tuple[timedelta, timedelta]:
    """The `every` and `grace` a person typed, checked; grace defaults to one minute."""
    period = parse_duration(every, "every")
    if not MIN_EVERY <= period <= MAX_EVERY:
        raise ValidationError("A heartbeat's every must be between 1 second and 31 days.")
    if grace is None or not grace.strip():
        slack = DEFAULT_GRACE
    elif grace.strip() == "0":
        slack = timedelta(0)
    else:
        slack = parse_duration(grace, "grace")
    if slack > MAX_GRACE:
        raise ValidationError("A heartbeat's grace must be at most 7 days.")
    return period, slack


def schedule_option(every: str | None, grace: str | None) -> tuple[timedelta, timedelta] | None:
    """The schedule the `every` and `grace` options of a webhook command give, if any."""
    if every is None:
        if grace is not None:
            raise ValidationError("`grace` goes with `every`: only heartbeats take them.")
        return None
    return parse_schedule(every, grace)


def new_heartbeat(
    webhook_id: int, guild_id: int, every: timedelta, grace: timedelta, now: datetime
) -> Heartbeat:
    """A heartbeat whose first ping is owed one period (plus grace) from now."""
    return Heartbeat(webhook_id, guild_id, every, grace, created_at=now, due_at=now + every + grace)


def restart_deadline(heartbeat: Heartbeat, started: datetime) -> datetime | None:
    """The deadline to use from a start at `started`: one that passed while Opsroom was down
    moves to `started + grace`; None when it stands as stored."""
    if heartbeat.due_at is None or heartbeat.due_at > started:
        return None
    return started + heartbeat.grace


def missed_signal(heartbeat: Heartbeat, name: str) -> AlertSignal:
    """The alert for a silence: it began when the ping that did not come was owed."""
    last = heartbeat.last_ping_at
    owed = (last or heartbeat.created_at) + heartbeat.every
    return AlertSignal(
        source=AlertSource.HEARTBEAT,
        action=SignalAction.TRIGGER,
        stream_key=str(heartbeat.webhook_id),
        monitor=name,
        title=f"Heartbeat {name} missed",
        details={
            "Expected": schedule_text(heartbeat.every, heartbeat.grace),
            "Last ping": last.isoformat(timespec="seconds") if last else "never",
        },
        started_at=owed,
    )


def resolve_signal(webhook: Webhook, at: datetime) -> AlertSignal:
    """A ping (or the heartbeat's revocation) ends the silence; ignored when none is open."""
    assert webhook.id is not None
    return AlertSignal(
        source=AlertSource.HEARTBEAT,
        action=SignalAction.RESOLVE,
        stream_key=str(webhook.id),
        monitor=webhook.name,
        title=f"Heartbeat {webhook.name} missed",
        ended_at=at,
    )


def pinged(heartbeat: Heartbeat, at: datetime) -> None:
    """Record a ping: the next deadline counts from it."""
    heartbeat.last_ping_at = at
    heartbeat.due_at = at + heartbeat.silence
    heartbeat.missed_at = None

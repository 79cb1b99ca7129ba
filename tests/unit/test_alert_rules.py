"""Alert identity, dedupe, acknowledgement and escalation rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.alerts import (
    AlertSignal,
    AlertSource,
    AlertState,
    EscalationTarget,
    Outcome,
    SignalAction,
    acknowledge,
    apply_signal,
    escalate,
)
from bot.core.errors import ConflictError
from bot.core.model import GuildConfig, Person

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = GuildConfig(guild_id=1)


def signal(action=SignalAction.TRIGGER, episode=None, source=AlertSource.EVENTS, **kw):
    """A notification for stream 'db' with the given action and episode key."""
    return AlertSignal(
        source=source,
        action=action,
        stream_key="db",
        monitor="db-1",
        title="DB down",
        episode_key=episode,
        **kw,
    )


def apply(existing, sig, at=T0):
    """Apply `sig` to `existing` for guild 1 at `at`."""
    return apply_signal(existing, sig, guild_id=1, received_at=at, config=CONFIG)


def test_first_trigger_opens_a_firing_alert_with_escalation_planned():
    """A new trigger opens an alert that will escalate after the guild's timeout."""
    outcome, alert = apply(None, signal(started_at=T0 - timedelta(minutes=3)))
    assert outcome is Outcome.NEW
    assert alert.state is AlertState.FIRING and alert.count == 1
    assert alert.started_at == T0 - timedelta(minutes=3)
    assert alert.next_escalation_at == T0 + timedelta(minutes=5)


def test_start_time_from_the_future_is_clamped_to_receipt():
    """A sender's clock ahead of ours cannot make an alert start after we received it."""
    _, alert = apply(None, signal(started_at=T0 + timedelta(hours=1)))
    assert alert.started_at == T0


def test_repeat_trigger_counts_instead_of_opening_another():
    """The same notification again updates the count of the same alert."""
    _, alert = apply(None, signal())
    outcome, same = apply(alert, signal(), T0 + timedelta(seconds=30))
    assert outcome is Outcome.REPEAT and same is alert
    assert alert.count == 2 and alert.last_seen_at == T0 + timedelta(seconds=30)


def test_resolve_ends_the_episode_and_stops_escalation():
    """A resolve marks the alert resolved at the sender's end time."""
    _, alert = apply(None, signal())
    end = T0 + timedelta(minutes=4)
    outcome, _ = apply(alert, signal(SignalAction.RESOLVE, ended_at=end), end)
    assert outcome is Outcome.RESOLVED
    assert alert.state is AlertState.RESOLVED and alert.resolved_at == end
    assert alert.duration == timedelta(minutes=4)
    assert alert.next_escalation_at is None


@pytest.mark.parametrize(
    ("action", "episode", "expected"),
    [
        # Implicit episodes (Events v2, UptimeRobot): nothing open means nothing to change…
        (SignalAction.ACKNOWLEDGE, None, Outcome.IGNORED),
        (SignalAction.RESOLVE, None, Outcome.IGNORED),
        # …but a trigger after resolve opens a new alert.
        (SignalAction.TRIGGER, None, Outcome.NEW),
        # Explicit episodes (Alertmanager): a resolve first seen is a missed firing, kept.
        (SignalAction.RESOLVE, "2026-03-01T11:58:00Z", Outcome.NEW),
        (SignalAction.TRIGGER, "2026-03-01T11:58:00Z", Outcome.NEW),
        (SignalAction.ACKNOWLEDGE, "2026-03-01T11:58:00Z", Outcome.IGNORED),
    ],
)
def test_signal_with_no_alert_to_join(action, episode, expected):
    """What a notification does when the repository found no alert for it."""
    outcome, alert = apply(None, signal(action, episode))
    assert outcome is expected
    assert (alert is None) is (expected is Outcome.IGNORED)


def test_missed_firing_is_recorded_resolved():
    """An Alertmanager resolve for an episode never seen firing is stored as resolved."""
    start, end = T0 - timedelta(minutes=10), T0 - timedelta(minutes=1)
    sig = signal(SignalAction.RESOLVE, "ep", started_at=start, ended_at=end)
    _, alert = apply(None, sig)
    assert alert.state is AlertState.RESOLVED
    assert (alert.started_at, alert.resolved_at) == (start, end)
    assert alert.next_escalation_at is None


@pytest.mark.parametrize("action", list(SignalAction))
def test_anything_for_a_resolved_episode_is_ignored(action):
    """Late or repeated deliveries never reopen or change a resolved episode."""
    _, alert = apply(None, signal(episode="ep"))
    apply(alert, signal(SignalAction.RESOLVE, "ep"))
    outcome, same = apply(alert, signal(action, "ep"), T0 + timedelta(hours=1))
    assert outcome is Outcome.IGNORED and same is alert
    assert alert.state is AlertState.RESOLVED and alert.count == 1


def test_sender_acknowledge_once_then_ignored():
    """An Events v2 acknowledge stops escalation; a second one changes nothing."""
    _, alert = apply(None, signal())
    outcome, _ = apply(alert, signal(SignalAction.ACKNOWLEDGE), T0 + timedelta(minutes=1))
    assert outcome is Outcome.ACKNOWLEDGED
    assert alert.acknowledged_at == T0 + timedelta(minutes=1) and alert.next_escalation_at is None
    assert apply(alert, signal(SignalAction.ACKNOWLEDGE))[0] is Outcome.IGNORED


def test_person_acknowledges_once():
    """Acknowledging records who; acknowledging again or a resolved alert is refused."""
    _, alert = apply(None, signal())
    acknowledge(alert, Person(7, "dana"), T0)
    assert alert.acknowledged_by == Person(7, "dana")
    with pytest.raises(ConflictError, match="already acknowledged by dana"):
        acknowledge(alert, Person(8, "eve"), T0)
    _, other = apply(None, signal(episode="x"))
    apply(other, signal(SignalAction.RESOLVE, "x"))
    with pytest.raises(ConflictError, match="resolved"):
        acknowledge(other, Person(8, "eve"), T0)


def test_escalation_pings_oncall_three_times_then_escalation_role_then_stops():
    """5, 10, 15 min: on-call; 20 min: escalation role; then silence."""
    _, alert = apply(None, signal())
    pings = []
    for minute in range(0, 41):
        target = escalate(alert, CONFIG, T0 + timedelta(minutes=minute))
        if target:
            pings.append((minute, target))
    assert pings == [
        (5, EscalationTarget.ONCALL),
        (10, EscalationTarget.ONCALL),
        (15, EscalationTarget.ONCALL),
        (20, EscalationTarget.ESCALATION),
    ]


def test_escalation_follows_guild_settings():
    """A guild with 2-minute timeouts and one repeat escalates at 2 then 4 minutes."""
    config = GuildConfig(guild_id=1, escalation_minutes=2, escalation_repeats=1)
    _, alert = apply_signal(None, signal(), guild_id=1, received_at=T0, config=config)
    targets = [escalate(alert, config, T0 + timedelta(minutes=m)) for m in range(7)]
    assert targets == [
        None,
        None,
        EscalationTarget.ONCALL,
        None,
        EscalationTarget.ESCALATION,
        None,
        None,
    ]


@pytest.mark.parametrize("stop", ["ack", "resolve"])
def test_acknowledge_or_resolve_stops_escalation(stop):
    """Once someone has it, or it is over, nobody is pinged."""
    _, alert = apply(None, signal())
    if stop == "ack":
        acknowledge(alert, Person(7, "dana"), T0 + timedelta(minutes=1))
    else:
        apply(alert, signal(SignalAction.RESOLVE))
    assert all(escalate(alert, CONFIG, T0 + timedelta(minutes=m)) is None for m in range(60))


def test_notices_never_escalate():
    """A signal marked as a notice (an expiry warning) opens an alert nobody is paged for."""
    _, alert = apply(None, signal(escalates=False))
    assert alert.next_escalation_at is None
    assert all(escalate(alert, CONFIG, T0 + timedelta(minutes=m)) is None for m in range(60))

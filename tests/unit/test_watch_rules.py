"""The pure rules of heartbeats and the certificate watch: schedules, restarts, verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.alerts import SignalAction
from bot.core.certs import (
    CHECK_EVERY,
    RETRY_FAILED,
    RETRY_UNREACHABLE,
    CertCheck,
    CertWatch,
    Problem,
    clean_target,
    expiring_soon,
    judge,
)
from bot.core.errors import ValidationError
from bot.core.heartbeats import new_heartbeat, parse_schedule, pinged, restart_deadline

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("every", "grace", "expected"),
    [
        ("5m", None, (timedelta(minutes=5), timedelta(minutes=1))),
        ("1h30m", "10m", (timedelta(minutes=90), timedelta(minutes=10))),
        ("90s", "0", (timedelta(seconds=90), timedelta(0))),
        ("1d", "2h", (timedelta(days=1), timedelta(hours=2))),
        (" 2 H ", " ", (timedelta(hours=2), timedelta(minutes=1))),
    ],
)
def test_schedules(every: str, grace: str | None, expected: tuple) -> None:
    assert parse_schedule(every, grace) == expected


@pytest.mark.parametrize(
    ("every", "grace", "reason"),
    [
        ("often", None, "Could not read every 'often'"),
        ("0s", None, "between 1 second and 31 days"),
        ("32d", None, "between 1 second and 31 days"),
        ("5m", "8d", "at most 7 days"),
        ("5m", "-1m", "Could not read grace"),
    ],
)
def test_bad_schedules_say_why(every: str, grace: str | None, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_schedule(every, grace)


def test_a_restart_moves_only_passed_deadlines() -> None:
    beat = new_heartbeat(1, 2, timedelta(minutes=5), timedelta(minutes=2), NOW)
    assert beat.due_at == NOW + timedelta(minutes=7)
    assert restart_deadline(beat, NOW + timedelta(minutes=6)) is None
    assert restart_deadline(beat, NOW + timedelta(hours=1)) == NOW + timedelta(hours=1, minutes=2)
    pinged(beat, NOW + timedelta(hours=2))
    assert beat.due_at == NOW + timedelta(hours=2, minutes=7) and beat.missed_at is None
    beat.due_at = None  # missed: nothing to move
    assert restart_deadline(beat, NOW + timedelta(hours=3)) is None


def watch() -> CertWatch:
    return CertWatch(
        guild_id=1, host="example.com", port=443, created_at=NOW, next_check_at=NOW, id=7
    )


def stages(signals, action: SignalAction) -> set[str]:
    return {s.stream_key.split(":", 1)[1] for s in signals if s.action is action}


def test_a_failed_check_does_not_resolve_the_expiry_notices() -> None:
    """Nobody has seen a renewed certificate yet, so 14d/7d stay open on a failure."""
    w = watch()
    out = judge(w, CertCheck(None, Problem.UNTRUSTED, "self-signed"), NOW, {"14d", "7d"})
    assert stages(out, SignalAction.TRIGGER) == {"untrusted"}
    assert stages(out, SignalAction.RESOLVE) == set()
    assert w.next_check_at == NOW + RETRY_FAILED


def test_a_new_handshake_problem_resolves_the_old_one() -> None:
    w = watch()
    out = judge(w, CertCheck(None, Problem.UNTRUSTED, "x"), NOW, {"wrong_name", "unreachable"})
    assert stages(out, SignalAction.RESOLVE) == {"wrong_name", "unreachable"}


def test_unreachable_counts_failures_in_a_row_and_keeps_other_alerts() -> None:
    w = watch()
    down = CertCheck(None, Problem.UNREACHABLE, "refused")
    assert judge(w, down, NOW, {"wrong_name"}) == []
    assert judge(w, down, NOW, {"wrong_name"}) == []
    out = judge(w, down, NOW, {"wrong_name"})
    assert stages(out, SignalAction.TRIGGER) == {"unreachable"} and not out[0].escalates
    assert w.failures == 3 and w.next_check_at == NOW + RETRY_UNREACHABLE
    judge(w, CertCheck(NOW + timedelta(days=90)), NOW, set())
    assert w.failures == 0


def test_the_clock_past_notafter_is_expired() -> None:
    """A handshake that verified (real time) but whose notAfter the clock has passed."""
    w = watch()
    out = judge(w, CertCheck(NOW - timedelta(minutes=1)), NOW, {"14d", "7d", "2d"})
    assert stages(out, SignalAction.TRIGGER) == {"expired"} and out[0].escalates
    assert w.problem is Problem.EXPIRED and expiring_soon(w, NOW)


def test_the_next_check_lands_on_the_next_threshold() -> None:
    w = watch()
    judge(w, CertCheck(NOW + timedelta(days=14, hours=2)), NOW, set())
    assert w.next_check_at == NOW + timedelta(hours=2)
    judge(w, CertCheck(NOW + timedelta(days=60)), NOW, set())
    assert w.next_check_at == NOW + CHECK_EVERY
    assert not expiring_soon(w, NOW)
    judge(w, CertCheck(NOW + timedelta(hours=47)), NOW, {"14d"})
    assert expiring_soon(w, NOW)


@pytest.mark.parametrize(
    ("text", "port", "expected"),
    [
        ("Example.COM.", None, ("example.com", 443)),
        ("https://example.com:8443/path?q", None, ("example.com", 8443)),
        ("https://example.com:8443/", 9443, ("example.com", 9443)),
        ("bücher.example", 443, ("xn--bcher-kva.example", 443)),
        ("[2001:db8::1]", 443, ("2001:db8::1", 443)),
        ("192.0.2.10", 10443, ("192.0.2.10", 10443)),
    ],
)
def test_targets(text: str, port: int | None, expected: tuple[str, int]) -> None:
    assert clean_target(text, port) == expected


@pytest.mark.parametrize(
    ("text", "port"),
    [("", None), ("exa mple.com", None), ("x" * 254, None), ("example.com", 0), ("a_b.c", 1)],
)
def test_bad_targets(text: str, port: int | None) -> None:
    with pytest.raises(ValidationError):
        clean_target(text, port)

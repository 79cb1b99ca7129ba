"""Certificate watch: what one TLS check of a watched host means, as alerts and a next check.

Each watch has one alert stream per *stage*, `"{watch id}:{stage}"`, so each warning is its
own message in `#alerts` and an earlier one never swallows a later one:

- `14d` and `7d` are notices (they never page); `2d` escalates like any alert;
- `expired`, `wrong_name` and `untrusted` (the handshake itself fails) escalate at once;
- `unreachable` (no TCP or TLS answer) and `refused` (the name now resolves to a private
  address) are notices, and only after `UNREACHABLE_AFTER` failed checks in a row: a
  watch is not an uptime monitor, and a host down for a minute has the same certificate.

A check only ever opens the most severe threshold crossed, so a watch added with a day
left opens `2d` alone. A successful handshake resolves every stage it disproves (all of
them when the certificate was renewed); a failed one leaves the threshold alerts open, as
nobody has seen a renewed certificate yet.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.errors import ValidationError
from bot.core.model import Person

CHECK_EVERY = timedelta(hours=6)
RETRY_UNREACHABLE = timedelta(minutes=10)
RETRY_FAILED = timedelta(hours=1)
UNREACHABLE_AFTER = 3
THRESHOLDS = (14, 7, 2)  # days before notAfter, least urgent first
ESCALATING_DAYS = 2
INCIDENT_WINDOW = timedelta(hours=48)
DEFAULT_PORT = 443
MAX_FIELD = 200
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class Problem(StrEnum):
    """Why a check found no usable certificate."""

    EXPIRED = "expired"
    WRONG_NAME = "wrong_name"
    UNTRUSTED = "untrusted"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"  # the host resolves to an address Opsroom may not probe


ESCALATING = frozenset({f"{ESCALATING_DAYS}d", "expired", "wrong_name", "untrusted"})
HANDSHAKE_FAILURES = frozenset({Problem.EXPIRED, Problem.WRONG_NAME, Problem.UNTRUSTED})
PROBLEM_STAGES = frozenset(p.value for p in Problem)


@dataclass(frozen=True)
class CertCheck:
    """What one TLS handshake found: the certificate's notAfter, or the problem."""

    not_after: datetime | None
    problem: Problem | None = None
    detail: str = ""


@dataclass
class CertWatch:
    """One watched `host:port`, with what its last check found."""

    guild_id: int
    host: str
    port: int
    created_at: datetime
    next_check_at: datetime
    owner: str | None = None
    runbook: str | None = None
    created_by: Person | None = None
    last_checked_at: datetime | None = None
    not_after: datetime | None = None
    problem: Problem | None = None
    detail: str = ""
    failures: int = 0  # failed checks in a row
    id: int | None = None

    @property
    def where(self) -> str:
        """`example.com` or `example.com:8443`."""
        return self.host if self.port == DEFAULT_PORT else f"{self.host}:{self.port}"


def clean_target(text: str, port: int | None) -> tuple[str, int]:
    """Host and port from what a person typed: a host name or address, or a URL (whose port
    counts when `port` is not given)."""
    raw = text.strip()
    if "://" in raw:
        try:
            parts = urlsplit(raw)
            port = port if port is not None else parts.port
        except ValueError:
            raise ValidationError(f"'{raw[:100]}' is not a URL or host name.") from None
        raw = parts.hostname or ""
    return clean_host(raw), clean_port(port)


def clean_host(text: str) -> str:
    """A host name or IP address, lower-case ASCII (IDNA), or a refusal."""
    raw = text.strip().strip("[]")
    raw = raw.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        pass
    else:
        return raw
    try:
        ascii_host = raw.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.split(".")
    if not ascii_host or len(ascii_host) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        raise ValidationError(f"'{text.strip()[:100]}' is not a host name, e.g. example.com.")
    return ascii_host


def clean_port(port: int | None) -> int:
    """The TCP port, 443 by default."""
    if port is None:
        return DEFAULT_PORT
    if not 1 <= port <= 65535:
        raise ValidationError("The port must be between 1 and 65535.")
    return port


def stream_key(watch: CertWatch, stage: str) -> str:
    """The alert stream of one stage of one watch."""
    return f"{watch.id}:{stage}"


STAGES = tuple(f"{days}d" for days in THRESHOLDS) + tuple(p.value for p in Problem)
"""Every stage a watch can alert on (to find its open alerts)."""


def _left(delta: timedelta) -> str:
    """`13 days`, `36 hours`, `50 minutes`."""
    hours = delta.total_seconds() / 3600
    if hours >= 72:
        return f"{int(hours // 24)} days"
    if hours >= 2:
        return f"{int(hours)} hours"
    return f"{max(1, int(hours * 60))} minutes"


def _title(watch: CertWatch, stage: str, now: datetime) -> str:
    where = watch.where
    if stage.endswith("d") and watch.not_after is not None:
        return f"TLS certificate of {where} expires in {_left(watch.not_after - now)}"
    return {
        Problem.EXPIRED: f"TLS certificate of {where} has expired",
        Problem.WRONG_NAME: f"TLS certificate of {where} is not valid for {watch.host}",
        Problem.UNTRUSTED: f"TLS certificate of {where} is not signed by a trusted authority",
        Problem.UNREACHABLE: f"TLS certificate of {where} cannot be checked: no answer",
        Problem.REFUSED: f"TLS certificate of {where} cannot be checked: private address",
    }[Problem(stage)]


def _details(watch: CertWatch) -> dict[str, str]:
    details = {
        "Host": f"{watch.host}:{watch.port}",
        "Owner": watch.owner or "not set (`/watch cert … owner:`)",
        "Runbook": watch.runbook or "not set (`/watch cert … runbook:`)",
    }
    if watch.not_after is not None:
        details["Expires"] = watch.not_after.isoformat(timespec="minutes")
    if watch.problem is not None and watch.detail:
        details["Problem"] = watch.detail
    return details


def _link(watch: CertWatch) -> str | None:
    runbook = watch.runbook or ""
    return runbook if runbook.startswith(("https://", "http://")) else None


def signal(watch: CertWatch, stage: str, action: SignalAction, now: datetime) -> AlertSignal:
    """The alert signal for one stage of a watch."""
    return AlertSignal(
        source=AlertSource.CERTIFICATE,
        action=action,
        stream_key=stream_key(watch, stage),
        monitor=watch.where,
        title=_title(watch, stage, now),
        severity="critical" if stage in ESCALATING else "warning",
        details=_details(watch),
        link=_link(watch),
        ended_at=now if action is SignalAction.RESOLVE else None,
        escalates=stage in ESCALATING,
    )


def judge(
    watch: CertWatch, check: CertCheck, now: datetime, firing: Collection[str]
) -> list[AlertSignal]:
    """Record a check on the watch and say which alerts it opens and resolves.

    `firing` holds the stages whose alerts are open. Also sets the next check: every
    `CHECK_EVERY`, sooner when a threshold falls due before that, and `RETRY_UNREACHABLE`
    while the host does not answer.
    """
    watch.last_checked_at = now
    problem, detail = check.problem, check.detail
    if problem is None and check.not_after is not None and check.not_after <= now:
        problem, detail = Problem.EXPIRED, f"expired at {check.not_after.isoformat()}"
    watch.problem, watch.detail = problem, detail
    if check.not_after is not None:
        watch.not_after = check.not_after
    signals = []
    if problem is None:
        assert check.not_after is not None
        watch.failures = 0
        left = check.not_after - now
        crossed = [f"{d}d" for d in THRESHOLDS if left <= timedelta(days=d)]
        if crossed and crossed[-1] not in firing:
            signals.append(signal(watch, crossed[-1], SignalAction.TRIGGER, now))
        signals += [
            signal(watch, stage, SignalAction.RESOLVE, now)
            for stage in sorted(firing)
            if stage not in crossed
        ]
        upcoming = [check.not_after - timedelta(days=d) for d in THRESHOLDS]
        soon = [at for at in upcoming if at > now]
        watch.next_check_at = min([now + CHECK_EVERY, *soon])
        return signals
    watch.failures += 1
    reached = problem in HANDSHAKE_FAILURES
    if (reached or watch.failures >= UNREACHABLE_AFTER) and problem.value not in firing:
        signals.append(signal(watch, problem.value, SignalAction.TRIGGER, now))
    if reached:
        signals += [
            signal(watch, stage, SignalAction.RESOLVE, now)
            for stage in sorted(firing)
            if stage in PROBLEM_STAGES and stage != problem.value
        ]
    watch.next_check_at = now + (RETRY_FAILED if reached else RETRY_UNREACHABLE)
    return signals


def expiring_soon(watch: CertWatch, now: datetime) -> bool:
    """Whether an open incident must hear of this certificate: it expires within 48 hours
    (or already has)."""
    if watch.problem is Problem.EXPIRED:
        return True
    return watch.not_after is not None and watch.not_after - now <= INCIDENT_WINDOW


def incident_text(watch: CertWatch, now: datetime) -> str:
    """The timeline entry an open incident gets for a certificate about to expire."""
    if watch.not_after is not None and watch.not_after > now and watch.problem is None:
        when = f"expires in {_left(watch.not_after - now)} ({watch.not_after:%Y-%m-%d %H:%M} UTC)"
    else:
        when = "has expired"
    owner = watch.owner or "no owner set"
    runbook = f", runbook {watch.runbook}" if watch.runbook else ""
    return f"Watched TLS certificate of {watch.where} {when}; owner {owner}{runbook}"

"""How alerts look in `#alerts`: the card, the storm digest, the escalation ping.

Pure functions of core objects, within Discord's limits. Relayed text (titles, monitors,
details) is shown as sent; it can never ping because every relay message goes out with
allowed mentions none, except the escalation ping, which allows exactly its one role.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord

from bot.adapters.discord import limits
from bot.adapters.discord.rendering import RESOLVED_COLOUR, mention, ts
from bot.adapters.http.parsers.alertmanager import TRUNCATED_DETAIL
from bot.core.alerts import Alert, EscalationTarget
from bot.core.model import Person, Severity
from bot.core.timeparse import format_duration

FIRING_COLOUR = 0xE02B2B
ACKNOWLEDGED_COLOUR = 0xF57C00
DETAILS_LIMIT = 1500  # the card stays readable; the full payload is at the source's link
DIGEST_LINE_LIMIT = 300
CHOICE_LIMIT = 25
PING_NAMES = 5  # alerts a shared ping names before "and N more"
_LEFT_OUT = re.compile(r"^(\d+) more")
_URL = re.compile(r"^https?://[^\s<>\"]+$")
# Sources' words for an alert's state; stale once it changes, so never shown as a detail.
STATE_WORDS = frozenset(
    {"down", "up", "firing", "resolved", "ok", "alerting", "normal", "trigger", "resolve"}
)
# What monitors call their levels, mapped to the severity a declare form starts with.
_SEVERITY_WORDS = {
    Severity.SEV1: {"critical", "crit", "disaster", "emergency", "fatal", "page", "p1", "sev1"},
    Severity.SEV2: {"error", "high", "major", "p2", "sev2"},
    Severity.SEV3: {"warning", "warn", "average", "medium", "minor", "p3", "sev3"},
    Severity.SEV4: {"info", "information", "low", "notice", "p4", "p5", "sev4"},
}


def label(alert: Alert) -> str:
    """`A12`, how the digest and the footer name an alert."""
    return f"A{alert.id}"


def one_line(text: str, limit: int) -> str:
    """Relayed text on one line, cut to `limit`."""
    return limits.truncate(" ".join(str(text).split()), limit)


def state_mark(alert: Alert) -> str:
    """🔴 firing, 🛠️ in maintenance, 👀 acknowledged, ✅ resolved."""
    if not alert.is_open:
        return "✅"
    if alert.maintenance_id is not None and not alert.acknowledged_at:
        return "🛠️"
    return "👀" if alert.acknowledged_at else "🔴"


def state_word(alert: Alert) -> str:
    """firing, acknowledged or resolved."""
    if not alert.is_open:
        return "resolved"
    if alert.maintenance_id is not None and not alert.acknowledged_at:
        return "in maintenance"
    return "acknowledged" if alert.acknowledged_at else "firing"


def colour(alert: Alert) -> int:
    """Red while firing, orange once someone took it, green when resolved."""
    if not alert.is_open:
        return RESOLVED_COLOUR
    return ACKNOWLEDGED_COLOUR if alert.acknowledged_at else FIRING_COLOUR


def taker(person: Person) -> str:
    """Who acknowledged: a mention, or a pager's name (id 0: a pager naming nobody)."""
    if person.id == 0:
        return person.name
    if person.name.startswith("pager '"):
        return f"{person.name} ({mention(person)})"
    return mention(person)


def state_text(alert: Alert) -> str:
    """The card's State field: who took it, or how long it lasted."""
    if alert.duration is not None:
        return f"✅ Resolved after {format_duration(alert.duration.total_seconds())}"
    if alert.acknowledged_at is not None:
        who = taker(alert.acknowledged_by) if alert.acknowledged_by else "its source"
        return f"👀 Acknowledged by {who} {ts(alert.acknowledged_at, 'R')}"
    if alert.maintenance_id is not None:
        return "🛠️ Firing, in maintenance (not escalated)"
    return "🔴 Firing"


def safe_url(link: str | None) -> str | None:
    """The link if Discord accepts it as an embed URL (anything else is refused with a 400)."""
    if link and len(link) <= 2000 and _URL.match(link):
        return link
    return None


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link to a message, for the escalation ping."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _in_title(alert: Alert, text: str) -> bool:
    """Whether the title already says `text` (so the card need not say it again)."""
    said = " ".join(str(text).split()).casefold()
    return bool(said) and said in " ".join(alert.title.split()).casefold()


def card_content(alert: Alert) -> str:
    """The one line above the card, which is also what a notification shows: the state and
    the title, with the monitor's name in front unless the title names it already."""
    text = f"{state_mark(alert)} **{state_word(alert)}** · "
    if alert.monitor and not _in_title(alert, alert.monitor):
        text += f"{one_line(alert.monitor, 100)}: "
    return text + one_line(alert.title, 300)


def shown_details(alert: Alert) -> dict[str, str]:
    """The details worth a line: not one the title already says, and not the source's own
    state word (UptimeRobot's "Type: Down"), which the State field shows as it is now."""
    return {
        key: value
        for key, value in alert.details.items()
        if not _in_title(alert, value) and " ".join(value.split()).casefold() not in STATE_WORDS
    }


def details_text(details: Mapping[str, str]) -> str | None:
    """`**key**: value` lines, cut to a readable size."""
    lines = [f"**{one_line(k, 100)}**: {one_line(v, 300)}" for k, v in details.items()]
    return limits.truncate("\n".join(lines), DETAILS_LIMIT) or None


def card(alert: Alert, incident_label: str | None = None) -> discord.Embed:
    """The alert's embed: source, monitor, state, severity, details, since when, link."""
    embed = discord.Embed(
        title=one_line(alert.title, limits.EMBED_TITLE) or "(untitled alert)",
        url=safe_url(alert.link),
        description=details_text(shown_details(alert)),
        colour=colour(alert),
    )
    embed.add_field(name="State", value=state_text(alert), inline=False)
    embed.add_field(name="Monitor", value=one_line(alert.monitor, 200) or "—")
    embed.add_field(name="Source", value=alert.source.value)
    if alert.severity:
        embed.add_field(name="Severity", value=one_line(alert.severity, 100))
    embed.add_field(name="Since", value=f"{ts(alert.started_at)} ({ts(alert.started_at, 'R')})")
    if alert.count > 1:
        embed.add_field(
            name="Seen", value=f"{alert.count} times, last {ts(alert.last_seen_at, 'R')}"
        )
    if incident_label:
        embed.add_field(name="Incident", value=limits.truncate(incident_label, 200))
    if alert.link and not embed.url:
        embed.add_field(name="Link", value=one_line(alert.link, 500), inline=False)
    embed.set_footer(text=f"Alert {label(alert)}")
    embed.timestamp = alert.started_at
    return limits.fit_embed(embed)


def fingerprint(content: str, embed: discord.Embed, view: discord.ui.View, file: Any) -> str:
    """What a message shows, as a short hash, to skip edits that would change nothing."""
    shown = [content, embed.to_dict(), view.to_components(), file]
    text = json.dumps(shown, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def suggested_severity(alert: Alert) -> Severity:
    """The severity a declare form starts with, from the monitor's own level word."""
    word = (alert.severity or "").strip().casefold()
    for severity, words in _SEVERITY_WORDS.items():
        if word in words:
            return severity
    return Severity.SEV2


@dataclass(frozen=True)
class Digest:
    """One message listing many alerts, with the full list as a file when it cannot hold it."""

    content: str
    embed: discord.Embed
    file: tuple[str, bytes] | None
    choices: list[tuple[str, str, str]]  # (label, value, description) for the pick menu


def digest_line(alert: Alert) -> str:
    """`🔴 firing · A12 **monitor** — title · since <t:…:R> · seen 3×`."""
    monitor = discord.utils.escape_markdown(one_line(alert.monitor, 60))
    title = discord.utils.escape_markdown(one_line(alert.title, 120))
    seen = f" · seen {alert.count}×" if alert.count > 1 else ""
    line = (
        f"{state_mark(alert)} {state_word(alert)} · `{label(alert)}` **{monitor}** — {title}"
        f" · since {ts(alert.started_at, 'R')}{seen}"
    )
    return limits.truncate(line, DIGEST_LINE_LIMIT)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def digest_file(alerts: Sequence[Alert]) -> bytes:
    """Every alert of a digest, one per line, nothing cut: the "+N more" list."""
    lines = [f"Opsroom alert digest: {len(alerts)} alerts (times in UTC)", ""]
    for alert in alerts:
        parts = [
            label(alert),
            state_word(alert),
            alert.severity or "-",
            alert.source.value,
            one_line(alert.monitor, 1000),
            one_line(alert.title, 4000),
            f"since {_utc(alert.started_at)}",
            f"seen {alert.count}x",
        ]
        if alert.resolved_at:
            parts.append(f"resolved {_utc(alert.resolved_at)}")
        if alert.link:
            parts.append(alert.link)
        lines.append(" | ".join(parts))
    return ("\n".join(lines) + "\n").encode()


def _pick_order(alert: Alert) -> tuple[int, int]:
    """Firing first, then acknowledged, then resolved: what still needs someone."""
    rank = 0 if alert.is_open and not alert.acknowledged_at else 1 if alert.is_open else 2
    return rank, alert.id or 0


def left_out(alerts: Sequence[Alert]) -> int:
    """How many alerts the senders said they left out (Alertmanager's truncated groups): each
    delivery's count once, however many of its alerts carry it."""
    seen: dict[tuple[int | None, datetime, str], int] = {}
    for alert in alerts:
        note = alert.details.get(TRUNCATED_DETAIL)
        match = _LEFT_OUT.match(note or "")
        if match and note is not None:
            seen[(alert.webhook_id, alert.received_at, note)] = int(match.group(1))
    return sum(seen.values())


def digest_content(count: int, firing: int, acked: int, missing: int) -> str:
    """The line above a digest: how many, whether any still needs someone, what was left out."""
    if firing or acked:
        text = (
            f"⚠️ **{count} alerts** of a storm are listed in this one message, kept up to date, "
            "to stay within Discord's limits. None was dropped."
        )
    else:
        text = f"✅ **{count} alerts**, all resolved. None was dropped."
    if missing:
        text += (
            f"\nThe monitor left out **{missing} more** (a truncated Alertmanager group): "
            "they never reached Opsroom; see the monitor itself."
        )
    return text


def digest(alerts: Sequence[Alert]) -> Digest:
    """The storm digest: every alert on one line, "+N more" with a file if they do not fit."""
    count = len(alerts)
    lines = [digest_line(a) for a in alerts]
    description = "\n".join(lines)
    file = None
    if len(description) > limits.EMBED_DESCRIPTION:
        name = f"alerts-{label(alerts[0])}-{label(alerts[-1])}.txt"
        room = limits.EMBED_DESCRIPTION - 120  # for the "+N more" line
        shown: list[str] = []
        used = 0
        # What still needs someone is shown first; the file lists every alert in order.
        for line in (digest_line(a) for a in sorted(alerts, key=_pick_order)):
            if used + len(line) > room:
                break
            shown.append(line)
            used += len(line) + 1
        more = count - len(shown)
        shown.append(f"… **+{more} more**: all {count} are listed in the attached `{name}`.")
        description = "\n".join(shown)
        file = (name, digest_file(alerts))
    firing = sum(1 for a in alerts if a.is_open and not a.acknowledged_at)
    acked = sum(1 for a in alerts if a.is_open and a.acknowledged_at)
    embed = discord.Embed(
        title=f"Alert digest: {count} alerts",
        description=description,
        colour=FIRING_COLOUR if firing else ACKNOWLEDGED_COLOUR if acked else RESOLVED_COLOUR,
    )
    embed.set_footer(
        text=f"{firing} firing · {acked} acknowledged · {count - firing - acked} resolved · "
        "pick one below to act on it"
    )
    content = digest_content(count, firing, acked, left_out(alerts))
    picks = sorted(alerts, key=_pick_order)[:CHOICE_LIMIT]
    choices = [
        (
            limits.truncate(
                f"{label(a)} · {one_line(a.monitor, 40)}: {one_line(a.title, 90)}", 100
            ),
            str(a.id),
            limits.truncate(f"{state_word(a)} · {a.source.value}", 100),
        )
        for a in picks
    ]
    return Digest(content, limits.fit_embed(embed), file, choices)


def ping_text(
    alert: Alert,
    target: EscalationTarget,
    role_id: int | None,
    *,
    repeats: int,
    now: datetime,
    link: str | None,
) -> str:
    """The escalation ping: the role (if configured), the alert, how long, where."""
    what = f"**{one_line(alert.title, 200)}** ({one_line(alert.monitor, 100)})"
    age = format_duration(max((now - alert.started_at).total_seconds(), 0))
    where = f" · [view the alert]({link})" if link else ""
    if target is EscalationTarget.ONCALL:
        head = f"🔔 <@&{role_id}>" if role_id else "🔔"
        level = min(alert.escalation_level, repeats)
        text = (
            f"{head} {what} has been firing for {age} without acknowledgement "
            f"(reminder {level} of {repeats}).{where}"
        )
    else:
        head = f"🚨 <@&{role_id}>" if role_id else "🚨"
        text = (
            f"{head} {what} is still unacknowledged after {repeats} on-call reminders "
            f"({age} firing): escalating.{where}"
        )
    return _with_role_note(text, target, role_id)


def _with_role_note(text: str, target: EscalationTarget, role_id: int | None) -> str:
    """The ping's text, saying how to configure the role when there is none to ping."""
    if role_id is None:
        if target is EscalationTarget.ONCALL:
            text += (
                "\nNo on-call role is configured, so nobody was pinged: "
                "`/opsroom setup oncall_role`."
            )
        else:
            text += (
                "\nNo escalation role is configured, so nobody was pinged: "
                "`/opsroom setup escalation_role`."
            )
    return limits.truncate(text, limits.CONTENT)


def group_ping_text(
    alerts: Sequence[Alert],
    target: EscalationTarget,
    role_id: int | None,
    *,
    repeats: int,
    now: datetime,
    channel_id: int,
) -> str:
    """One ping for many alerts due at the same level: how many, the first few, where."""
    oldest = min(a.started_at for a in alerts)
    age = format_duration(max((now - oldest).total_seconds(), 0))
    names = ", ".join(
        f"`{label(a)}` **{one_line(a.title, 80)}** ({one_line(a.monitor, 40)})"
        for a in alerts[:PING_NAMES]
    )
    more = f" and {len(alerts) - PING_NAMES} more" if len(alerts) > PING_NAMES else ""
    where = f" — see <#{channel_id}>."
    count = f"**{len(alerts)} alerts**"
    if target is EscalationTarget.ONCALL:
        head = f"🔔 <@&{role_id}>" if role_id else "🔔"
        level = min(alerts[0].escalation_level, repeats)
        text = (
            f"{head} {count} have been firing without acknowledgement, the oldest for {age} "
            f"(reminder {level} of {repeats}): {names}{more}{where}"
        )
    else:
        head = f"🚨 <@&{role_id}>" if role_id else "🚨"
        text = (
            f"{head} {count} are still unacknowledged after {repeats} on-call reminders "
            f"(the oldest firing for {age}): escalating. {names}{more}{where}"
        )
    return _with_role_note(text, target, role_id)

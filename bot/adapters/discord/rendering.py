"""Pure functions that turn core objects into what Discord users see, within Discord's limits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import discord

from bot.adapters.discord import limits
from bot.core.model import (
    ActionItem,
    ActionStatus,
    EntryKind,
    GuildConfig,
    Incident,
    IncidentRole,
    Person,
    Severity,
    Status,
    TimelineEntry,
)
from bot.core.timeparse import format_duration

SEVERITY_COLOURS = {
    Severity.SEV1: 0xE02B2B,
    Severity.SEV2: 0xF57C00,
    Severity.SEV3: 0xF2C037,
    Severity.SEV4: 0x3B82F6,
}
RESOLVED_COLOUR = 0x2ECC71
CLOSED_COLOUR = 0x95A5A6
SEVERITY_MARKS = {
    Severity.SEV1: "🔴",
    Severity.SEV2: "🟠",
    Severity.SEV3: "🟡",
    Severity.SEV4: "🔵",
}
KIND_MARKS = {
    EntryKind.DECLARED: "🚨",
    EntryKind.NOTE: "📝",
    EntryKind.UPDATE: "📣",
    EntryKind.STATUS: "🔄",
    EntryKind.SEVERITY: "⚠️",
    EntryKind.ROLE: "👤",
    EntryKind.ALERT: "🔔",
    EntryKind.ACTION: "✅",
    EntryKind.REPORT: "🗣️",
    EntryKind.EVIDENCE: "📎",
    EntryKind.DECISION: "⚖️",
    EntryKind.MILESTONE: "📍",
    EntryKind.PAGE: "📟",
}
SUPPORT_ROLES = [r for r in IncidentRole if r is not IncidentRole.COMMANDER]
_SLUG_JUNK = re.compile(r"[^\w]+")


def count(number: int, plural: str) -> str:
    """`1 open incident`, `2 open incidents`: the noun phrase's last word agrees."""
    return f"{number} {plural.removesuffix('s') if number == 1 else plural}"


def ts(moment: datetime, style: str = "f") -> str:
    """Discord timestamp markup, so every reader sees the moment in their own timezone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def mention(person: Person) -> str:
    """A user mention (rendered as a name; it never pings: allowed mentions are none)."""
    return f"<@{person.id}>"


def people(persons: Sequence[Person], limit: int = limits.FIELD_VALUE) -> str:
    """Mentions joined by commas; whole mentions only, then `and N more`."""
    shown: list[str] = []
    for index, who in enumerate(persons):
        rest = len(persons) - index
        tail = f" and {rest} more"
        if len(", ".join([*shown, mention(who)])) + (len(tail) if rest > 1 else 0) > limit:
            return ", ".join(shown) + tail
        shown.append(mention(who))
    return ", ".join(shown)


def severity_text(severity: Severity) -> str:
    """`🔴 sev1 (critical)`."""
    return f"{SEVERITY_MARKS[severity]} {severity.value} ({severity.label})"


def slug(title: str, limit: int = 80) -> str:
    """A channel-name-safe slug of a title: lower case, words joined by hyphens."""
    text = _SLUG_JUNK.sub("-", title.lower()).replace("_", "-")
    text = re.sub(r"-{2,}", "-", text).strip("-")
    return text[:limit].rstrip("-") or "incident"


def channel_name(incident: Incident) -> str:
    """`inc-12-database-down`, the working channel's name."""
    return f"inc-{incident.number}-{slug(incident.title)}"[: limits.CHANNEL_NAME]


def thread_name(incident: Incident) -> str:
    """The operating-room thread's name: the incident label, within 100 characters."""
    return limits.truncate(incident.label, limits.THREAD_NAME)


def colour(incident: Incident) -> int:
    """Green when resolved, grey when closed, else the severity's colour."""
    if incident.status is Status.CLOSED:
        return CLOSED_COLOUR
    if incident.status is Status.RESOLVED:
        return RESOLVED_COLOUR
    return SEVERITY_COLOURS[incident.severity]


def duration_text(incident: Incident) -> str:
    """How long the impact lasted, or a live relative time while it goes on."""
    if incident.resolved_at is not None:
        return format_duration((incident.resolved_at - incident.started_at).total_seconds())
    return f"ongoing, began {ts(incident.started_at, 'R')}"


def incident_card(incident: Incident) -> discord.Embed:
    """The incident card: the same embed in the working channel and the operating room."""
    embed = discord.Embed(
        title=incident.label,
        description=incident.summary or None,
        colour=colour(incident),
    )
    embed.add_field(name="Severity", value=severity_text(incident.severity))
    embed.add_field(name="Status", value=incident.status.value)
    commander = incident.commander
    embed.add_field(name="Commander", value=mention(commander) if commander else "nobody")
    for role in SUPPORT_ROLES:
        holders = incident.holders(role)
        if holders:
            embed.add_field(name=role.value.capitalize(), value=people(holders))
    embed.add_field(
        name="Started", value=f"{ts(incident.started_at)} ({ts(incident.started_at, 'R')})"
    )
    embed.add_field(name="Duration", value=duration_text(incident))
    if incident.latest_update:
        when = f"\n— {ts(incident.latest_update_at, 'R')}" if incident.latest_update_at else ""
        text = limits.truncate(incident.latest_update, limits.FIELD_VALUE - len(when))
        embed.add_field(name="Latest update", value=text + when, inline=False)
    embed.set_footer(text=f"Declared by {incident.declared_by.name}")
    embed.timestamp = incident.declared_at
    return limits.fit_embed(embed)


def timeline_line(entry: TimelineEntry) -> str:
    """One entry: `5 · 14:03:12 🗣️ report · alice: text · jump`, times in Discord markup.

    People's entries other than notes name their kind (report, evidence, action, decision), so
    a reader tells a report from a pasted log line; other entries carry only their mark.
    """
    author = f"**{entry.author.name}**: " if entry.author else ""
    link = f" · [jump]({entry.jump_url})" if entry.jump_url else ""
    edited = " *(edited)*" if entry.edited_at else ""
    kind = (
        f"*{entry.kind.value}* · "
        if entry.kind.written and entry.kind is not EntryKind.NOTE
        else ""
    )
    return (
        f"`{entry.seq}` {ts(entry.event_at, 'T')} {KIND_MARKS[entry.kind]} "
        f"{kind}{author}{entry.text}{edited}{link}"
    )


def entry_posts(entry: TimelineEntry) -> list[str]:
    """An entry as operating-room thread messages (several only for very long text)."""
    return limits.split_text(timeline_line(entry))


def entry_changed_line(entry: TimelineEntry) -> str:
    """The short notice posted when an entry is edited or deleted."""
    if entry.deleted:
        return f"🗑️ Entry {entry.seq} was deleted."
    text = limits.truncate(" ".join(entry.text.split()), 300)
    return f"✏️ Entry {entry.seq} was edited ({ts(entry.event_at, 'T')}): {text}"


def timeline_messages(
    incident: Incident, entries: Sequence[TimelineEntry], max_messages: int = 5
) -> list[str]:
    """`/timeline show`: a header and one line per entry, in at most `max_messages` messages.

    A timeline too long for that keeps its latest entries and says how many were left out.
    """
    header = f"**Timeline of {limits.truncate(incident.label, 200)}**"
    if not entries:
        return [f"{header}\nNo entries yet."]
    lines = [timeline_line(e) for e in entries]

    def packed(start: int) -> list[str]:
        note = f" (latest {len(lines) - start} of {len(lines)}; use `last` for fewer)"
        return limits.pack_lines(lines[start:], header=header + (note if start else ""))

    low, high = 0, len(lines) - 1  # the smallest start whose lines fit
    while low < high:
        middle = (low + high) // 2
        if len(packed(middle)) <= max_messages:
            high = middle
        else:
            low = middle + 1
    return packed(low)[:max_messages]


def incident_line(incident: Incident) -> str:
    """One incident in a list."""
    parts = [
        f"**{limits.truncate(incident.label, 200)}**",
        severity_text(incident.severity),
        incident.status.value,
    ]
    if incident.commander:
        parts.append(f"commander {mention(incident.commander)}")
    parts.append(f"began {ts(incident.started_at, 'R')}")
    if incident.channel_id:
        parts.append(f"<#{incident.channel_id}>")
    return " · ".join(parts)


def incident_list(incidents: Sequence[Incident], what: str = "open incidents") -> list[str]:
    """`/incident list`: one line per incident, split over messages as needed."""
    if not incidents:
        return [f"No {what}."]
    header = f"**{count(len(incidents), what)}**"
    return limits.pack_lines((incident_line(i) for i in incidents), header=header)


def action_line(action: ActionItem) -> str:
    """One follow-up: number, box, text, kind, owner, due, and when it was done."""
    done = action.status is ActionStatus.DONE
    parts = [f"`{action.seq}` {'☑' if done else '☐'} {action.text}", action.kind.value]
    if action.owner:
        parts.append(f"owner {mention(action.owner)}")
    if action.due:
        parts.append(f"due {action.due.isoformat()}")
    if done and action.done_at:
        parts.append(f"done {ts(action.done_at, 'R')}")
    return " · ".join(parts)


def action_list(incident: Incident, actions: Sequence[ActionItem]) -> list[str]:
    """`/action list`: the incident's follow-ups, split over messages as needed."""
    header = f"**Action items of {limits.truncate(incident.label, 200)}**"
    if not actions:
        return [f"{header}\nNone yet."]
    return limits.pack_lines((action_line(a) for a in actions), header=header)


def incident_choice(incident: Incident) -> str:
    """An autocomplete choice's name: `#12 title`, within 100 characters."""
    return limits.truncate(incident.label, limits.CHOICE_NAME)


def status_text(config: GuildConfig | None, problems: Sequence[str] = ()) -> str:
    """`/opsroom status`: every setting, and what is missing or wrong."""
    if config is None:
        return (
            "Opsroom is not set up here yet: run `/opsroom setup responder_role:<role>` "
            "(Manage Server)."
        )

    def role(role_id: int | None) -> str:
        return f"<@&{role_id}>" if role_id else "not set"

    def channel(channel_id: int | None) -> str:
        return f"<#{channel_id}>" if channel_id else "not set"

    lines = [
        "**Opsroom configuration**",
        f"Responder role: {role(config.responder_role_id)}",
        f"On-call role: {role(config.oncall_role_id)}",
        f"Escalation role: {role(config.escalation_role_id)}",
        f"Alerts channel: {channel(config.alerts_channel_id)}",
        f"Operating room: {channel(config.operating_room_id)}",
        f"Incident category: {channel(config.incident_category_id)}",
        f"Timezone: {config.timezone}",
        f"Escalation: after {config.escalation_minutes} min, "
        f"{config.escalation_repeats} on-call pings, then the escalation role",
    ]
    issues = [f"{name} is not set" for name in config.missing()] + list(problems)
    if issues:
        lines.append("**Missing or wrong**")
        lines.extend(f"• {issue}" for issue in issues)
    else:
        lines.append("Everything is in place.")
    return limits.truncate("\n".join(lines), limits.CONTENT)

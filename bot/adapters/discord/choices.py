"""Slash-command choices built from the core's enums, with the words users know them by."""

from __future__ import annotations

from discord import app_commands

from bot.core.milestones import MilestoneName
from bot.core.model import (
    WRITTEN_KINDS,
    ActionKind,
    IncidentRole,
    PostmortemSection,
    Severity,
    Status,
)

SEVERITIES = [app_commands.Choice(name=f"{s.value} ({s.label})", value=s.value) for s in Severity]
STATUSES = [app_commands.Choice(name=s.value, value=s.value) for s in Status]
SUPPORT_ROLES = [
    app_commands.Choice(name=r.value, value=r.value)
    for r in IncidentRole
    if r is not IncidentRole.COMMANDER
]
ACTION_KINDS = [app_commands.Choice(name=k.value, value=k.value) for k in ActionKind]
# As the draft's headings name them (bot/postmortem/default.md.j2), not the stored keys.
SECTION_TITLES = {
    PostmortemSection.SUMMARY: "Summary",
    PostmortemSection.IMPACT: "Impact",
    PostmortemSection.ROOT_CAUSE: "Root cause",
    PostmortemSection.TRIGGER: "Trigger",
    PostmortemSection.RESOLUTION: "Resolution",
    PostmortemSection.WENT_WELL: "What went well",
    PostmortemSection.WENT_POORLY: "What went poorly",
    PostmortemSection.LUCKY: "Where we got lucky",
    PostmortemSection.SUPPORTING: "Supporting information",
}
POSTMORTEM_SECTIONS = [
    app_commands.Choice(name=SECTION_TITLES.get(s, s.value), value=s.value)
    for s in PostmortemSection
]
ENTRY_KINDS = [
    app_commands.Choice(name=f"{k.value}: {hint}", value=k.value)
    for k, hint in zip(
        WRITTEN_KINDS,
        (
            "anything worth keeping",
            "someone noticed or reported the problem",
            "a log line, graph or quote kept as proof",
            "something done",
            "a decision made",
        ),
        strict=True,
    )
]
MILESTONES = [app_commands.Choice(name=m.value, value=m.value) for m in MilestoneName]

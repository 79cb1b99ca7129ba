"""Slash-command choices built from the core's enums, with the words users know them by."""

from __future__ import annotations

from discord import app_commands

from bot.core.model import ActionKind, IncidentRole, PostmortemSection, Severity, Status

SEVERITIES = [app_commands.Choice(name=f"{s.value} ({s.label})", value=s.value) for s in Severity]
STATUSES = [app_commands.Choice(name=s.value, value=s.value) for s in Status]
SUPPORT_ROLES = [
    app_commands.Choice(name=r.value, value=r.value)
    for r in IncidentRole
    if r is not IncidentRole.COMMANDER
]
ACTION_KINDS = [app_commands.Choice(name=k.value, value=k.value) for k in ActionKind]
POSTMORTEM_SECTIONS = [app_commands.Choice(name=s.value, value=s.value) for s in PostmortemSection]

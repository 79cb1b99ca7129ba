"""Who may change what: anyone may read; responders (or Manage Server) may change incidents."""

from __future__ import annotations

from bot.core.errors import NotConfiguredError, PermissionDeniedError
from bot.core.model import GuildConfig, Incident, IncidentRole, Member


def ensure_can_change(member: Member, config: GuildConfig | None) -> None:
    """Refuse, with a one-line reason, a member who may only watch."""
    if member.manage_guild:
        return
    if config is None or config.responder_role_id is None:
        raise NotConfiguredError(
            "Opsroom is not set up here yet: someone with Manage Server must run /opsroom setup."
        )
    if config.responder_role_id not in member.role_ids:
        raise PermissionDeniedError(
            f"Only members with the <@&{config.responder_role_id}> role or Manage Server "
            "can change incidents; you can still watch in the operating room."
        )


def ensure_can_configure(member: Member) -> None:
    """Setup and webhooks change how the whole guild is alerted: Manage Server only."""
    if not member.manage_guild:
        raise PermissionDeniedError("Only members with Manage Server can configure Opsroom.")


def ensure_can_publish(member: Member, incident: Incident) -> None:
    """Only the incident's commander and its comms role speak for it in public."""
    allowed = incident.holders(IncidentRole.COMMANDER) + incident.holders(IncidentRole.COMMS)
    if member.person.id not in {p.id for p in allowed}:
        raise PermissionDeniedError(
            f"Only the commander or comms of {incident.label} can publish on the status page; "
            "ask the commander to give you comms with /incident role."
        )

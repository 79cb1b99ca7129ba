"""Who may change what: anyone may read; responders (or Manage Server) may change incidents."""

from __future__ import annotations

from bot.core.errors import NotConfiguredError, PermissionDeniedError
from bot.core.model import GuildConfig, Member


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

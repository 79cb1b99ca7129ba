"""Exactly the Discord permissions Opsroom uses, in ONE list: `opsroom invite` asks for them,
`/opsroom setup` and `/opsroom status` check them all at once, server-wide and per channel.

Discord lets a bot allow or deny in an overwrite only permissions it holds itself, so the
operating room's read-only overwrites (deny reactions and private threads to @everyone)
need those permissions too, though the bot never reacts or opens private threads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import discord

from bot.core.model import GuildConfig

SCOPES = ("bot", "applications.commands")


@dataclass(frozen=True)
class Need:
    """One permission: discord.py's flag name, Discord's label for it, and what it is for."""

    flag: str
    label: str
    why: str


NEEDS: tuple[Need, ...] = (
    Need("view_channel", "View Channels", "see the channels it posts in"),
    Need("send_messages", "Send Messages", "post alert and incident cards"),
    Need("send_messages_in_threads", "Send Messages in Threads", "write incident threads"),
    Need("embed_links", "Embed Links", "show cards as embeds"),
    Need("attach_files", "Attach Files", "attach postmortem drafts and long digests"),
    Need("read_message_history", "Read Message History", "find its own cards again"),
    Need("add_reactions", "Add Reactions", "deny reactions in the operating room"),
    Need("manage_channels", "Manage Channels", "create #alerts, the room and #inc-N"),
    Need("manage_roles", "Manage Roles", "set channel overwrites; move the on-call role"),
    Need("manage_threads", "Manage Threads", "keep incident threads open"),
    Need("create_public_threads", "Create Public Threads", "open an incident's thread"),
    Need("create_private_threads", "Create Private Threads", "deny private threads in the room"),
    Need("pin_messages", "Pin Messages", "pin the incident card in its channel"),
)
_BY_FLAG = {need.flag: need for need in NEEDS}
OPTIONAL: tuple[Need, ...] = (
    Need("manage_events", "Manage Events", "show maintenance windows as scheduled events"),
)
"""Asked for by the invite and reported when missing, but setup works without them: only
the feature they name is skipped."""
POSTING = ("view_channel", "send_messages", "embed_links", "attach_files", "read_message_history")
# Per channel, a subset of NEEDS (a test holds them to it).
ALERTS_CHANNEL = POSTING
OPERATING_ROOM = (
    *POSTING,
    "send_messages_in_threads",
    "add_reactions",
    "manage_roles",
    "manage_threads",
    "create_public_threads",
    "create_private_threads",
)
INCIDENT_CATEGORY = (*POSTING, "manage_channels", "manage_roles", "pin_messages")


def required() -> discord.Permissions:
    """Every permission of NEEDS and OPTIONAL as one value (the invite URL's `permissions=`
    integer)."""
    return discord.Permissions(**{need.flag: True for need in (*NEEDS, *OPTIONAL)})


def application_id_from_token(token: str) -> int | None:
    """A bot token's first part is its user id in base64, which is the application's id."""
    head = token.split(".", 1)[0]
    try:
        text = base64.b64decode(head + "=" * (-len(head) % 4), validate=False).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isdecimal() and int(text) > 0 else None


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot with exactly the permissions it uses."""
    return discord.utils.oauth_url(application_id, permissions=required(), scopes=SCOPES)


def lacking(have: discord.Permissions, flags: Iterable[str]) -> list[Need]:
    """The needs among `flags` that `have` does not grant, in NEEDS order."""
    wanted = set(flags)
    return [need for need in NEEDS if need.flag in wanted and not getattr(have, need.flag)]


def _labels(needs: list[Need]) -> str:
    return ", ".join(f"**{need.label}**" for need in needs)


def missing_server_wide(guild: discord.Guild) -> list[str]:
    """One line naming every permission the bot's roles lack, or none."""
    gone = lacking(guild.me.guild_permissions, _BY_FLAG)
    if not gone:
        return []
    return [
        f"I lack {_labels(gone)} server-wide: give my role these permissions "
        "(Server Settings → Roles), or re-invite me with `opsroom invite`"
    ]


def report(guild: discord.Guild, config: GuildConfig | None) -> list[str]:
    """Every missing permission (server-wide and per channel) and unmentionable role."""
    found = missing_server_wide(guild)
    found += [
        f"Optional: without **{need.label}** I cannot {need.why}"
        for need in OPTIONAL
        if not getattr(guild.me.guild_permissions, need.flag)
    ]
    if config is None:
        return found
    server_wide = {need.flag for need in lacking(guild.me.guild_permissions, _BY_FLAG)}
    channels = (
        ("#alerts", config.alerts_channel_id, ALERTS_CHANNEL),
        ("the operating room", config.operating_room_id, OPERATING_ROOM),
        ("the incident category", config.incident_category_id, INCIDENT_CATEGORY),
    )
    for name, channel_id, flags in channels:
        channel = guild.get_channel(channel_id) if channel_id else None
        if channel is None:
            continue
        shown = channel.mention if isinstance(channel, discord.TextChannel) else name
        # What the server-wide line names already is not repeated per channel.
        gone = lacking(channel.permissions_for(guild.me), set(flags) - server_wide)
        if gone:
            found.append(f"In {shown} I lack {_labels(gone)}: check its permission overwrites")
    found.extend(unmentionable(guild, config))
    return found


def unmentionable(guild: discord.Guild, config: GuildConfig) -> list[str]:
    """Escalation pings name a role; one that cannot be mentioned would ping nobody."""
    if guild.me.guild_permissions.mention_everyone:
        return []  # Mention @everyone lets the bot ping any role
    found = []
    for name, role_id in (
        ("on-call", config.oncall_role_id),
        ("escalation", config.escalation_role_id),
    ):
        role = guild.get_role(role_id) if role_id else None
        if role is not None and not role.mentionable:
            found.append(
                f"The {name} role {role.mention} cannot be mentioned, so its pings would reach "
                "nobody: turn on **Allow anyone to @mention this role** (Server Settings → "
                "Roles)"
            )
    return found


def setup_blocked(guild: discord.Guild, config: GuildConfig | None) -> str | None:
    """Setup's answer when server-wide permissions are missing: everything to fix, in one
    reply, before anything is created (else a run would fail on one permission at a time)."""
    if not missing_server_wide(guild):
        return None
    lines = "\n".join(f"• {line}" for line in report(guild, config))
    return f"⚠️ Opsroom is not set up yet: fix these, then run `/opsroom setup` again.\n{lines}"

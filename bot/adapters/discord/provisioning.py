"""`/opsroom setup` on the Discord side: find or make the category and channels, and make
`#operating-room` read-only for everyone but the bot.

Re-running is safe: each part is taken from the command's option, else the stored id if
the channel still exists, else an existing channel of the default name, and only then
created.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord

from bot.adapters.discord import permissions
from bot.core.model import GuildConfig

log = logging.getLogger(__name__)

CATEGORY_NAME = "Incidents"
ALERTS_NAME = "alerts"
ROOM_NAME = "operating-room"
REASON = "Opsroom setup"

# What nobody but the bot may do in the operating room (Discord's permission bits: docs/design.md).
ROOM_DENIED = discord.Permissions(
    send_messages=True,
    add_reactions=True,
    create_public_threads=True,
    create_private_threads=True,
    send_messages_in_threads=True,
)
# What the bot needs there: the same, plus seeing, embedding, attaching, history, threads.
BOT_ALLOWED = discord.Permissions(
    ROOM_DENIED.value,
    view_channel=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    manage_threads=True,
)


@dataclass(frozen=True)
class Provisioned:
    """The channels setup settled on, and which of them it had to create."""

    category: discord.CategoryChannel
    alerts: discord.TextChannel
    room: discord.TextChannel
    created: tuple[str, ...]


def _stored(guild: discord.Guild, channel_id: int | None, kind: type) -> object | None:
    channel = guild.get_channel(channel_id) if channel_id else None
    return channel if isinstance(channel, kind) else None


def _named(channels: list, name: str) -> object | None:
    return next((c for c in channels if c.name.casefold() == name.casefold()), None)


def room_overwrites(
    guild: discord.Guild, existing: dict | None = None
) -> dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite]:
    """The operating room's overwrites: everyone denied posting, the bot allowed.

    Other overwrites an admin made are kept, minus any posting rights they grant, so a
    role cannot punch a hole in the read-only room.
    """
    overwrites = dict(existing or {})
    posting = {name: None for name, on in ROOM_DENIED if on}
    for target, overwrite in overwrites.items():
        if target != guild.me and target != guild.default_role:
            overwrite.update(**posting)
    everyone = overwrites.get(guild.default_role, discord.PermissionOverwrite())
    everyone.update(**{name: False for name in posting})
    overwrites[guild.default_role] = everyone
    overwrites[guild.me] = discord.PermissionOverwrite.from_pair(
        BOT_ALLOWED, discord.Permissions.none()
    )
    return overwrites


async def provision(
    guild: discord.Guild,
    config: GuildConfig | None,
    *,
    category: discord.CategoryChannel | None = None,
    alerts: discord.TextChannel | None = None,
    room: discord.TextChannel | None = None,
) -> Provisioned:
    """Adopt or create the category, `#alerts` and `#operating-room`; lock the room."""
    created: list[str] = []
    category = (
        category
        or _stored(guild, config and config.incident_category_id, discord.CategoryChannel)
        or _named(guild.categories, CATEGORY_NAME)
    )  # type: ignore[assignment]
    if category is None:
        category = await guild.create_category(CATEGORY_NAME, reason=REASON)
        created.append(f"category {CATEGORY_NAME}")
    alerts = (
        alerts
        or _stored(guild, config and config.alerts_channel_id, discord.TextChannel)
        or _named(guild.text_channels, ALERTS_NAME)
    )  # type: ignore[assignment]
    if alerts is None:
        alerts = await guild.create_text_channel(ALERTS_NAME, reason=REASON)
        created.append(f"#{ALERTS_NAME}")
    room = (
        room
        or _stored(guild, config and config.operating_room_id, discord.TextChannel)
        or _named(guild.text_channels, ROOM_NAME)
    )  # type: ignore[assignment]
    if room is None:
        room = await guild.create_text_channel(
            ROOM_NAME,
            overwrites=room_overwrites(guild),
            topic="Live incident cards and timelines (read-only); responders work in #inc-…",
            reason=REASON,
        )
        created.append(f"#{ROOM_NAME}")
    else:
        wanted = room_overwrites(guild, dict(room.overwrites))
        if _pairs(wanted) != _pairs(room.overwrites):
            await room.edit(overwrites=wanted, reason=REASON)
    return Provisioned(category, alerts, room, tuple(created))  # type: ignore[arg-type]


def _pairs(overwrites: dict) -> dict[int, tuple[int, int]]:
    return {t.id: tuple(p.value for p in o.pair()) for t, o in overwrites.items()}


def problems(guild: discord.Guild, config: GuildConfig | None) -> list[str]:
    """What `/opsroom status` reports beyond unset values: deleted channels, a writable room,
    every missing permission and unmentionable role."""
    if config is None:
        return []
    found: list[str] = []
    checks = [
        ("responder role", config.responder_role_id, guild.get_role),
        ("on-call role", config.oncall_role_id, guild.get_role),
        ("escalation role", config.escalation_role_id, guild.get_role),
        ("alerts channel", config.alerts_channel_id, guild.get_channel),
        ("operating room", config.operating_room_id, guild.get_channel),
        ("incident category", config.incident_category_id, guild.get_channel),
    ]
    for name, object_id, lookup in checks:
        if object_id and lookup(object_id) is None:
            found.append(f"the {name} was deleted: run /opsroom setup again")
    room = guild.get_channel(config.operating_room_id) if config.operating_room_id else None
    if isinstance(room, discord.TextChannel):
        everyone = room.permissions_for(guild.default_role)
        if everyone.send_messages or everyone.send_messages_in_threads or everyone.add_reactions:
            found.append("the operating room is not read-only for @everyone: run /opsroom setup")
    return found + permissions.report(guild, config)

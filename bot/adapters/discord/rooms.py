"""An incident's Discord objects: the working channel with its pinned card, the operating-room
card and thread. Created once, then kept current in place; never re-posted.

The declare command and the outbox notifier both call `ensure`; a per-incident lock and a
fresh read of the stored links inside it make sure only one of them creates anything. Ids
are stored right after each object is made, and posts carry a nonce, so a crash in the
middle leaves at most the step in progress to redo.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import limits, rendering
from bot.core.model import GuildConfig, Incident, Status
from bot.core.services import IncidentRef

if TYPE_CHECKING:
    from bot.adapters.discord.client import OpsroomBot

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES = 10080  # a week: quiet incidents keep their thread in view
THREAD_ALREADY_CREATED = 160004
# Denied to everyone but the bot in a closed incident's working channel.
LOCKED = {
    "send_messages": False,
    "send_messages_in_threads": False,
    "create_public_threads": False,
    "create_private_threads": False,
    "add_reactions": False,
}
BOT_WRITES = discord.PermissionOverwrite(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


def topic_marker(incident: Incident) -> str:
    """Ends the working channel's topic, so a half-finished creation can be adopted."""
    return f"(Opsroom incident {incident.id})"


def card_digest(embed: discord.Embed) -> str:
    """What a card shows, as a short hash, to skip edits that would change nothing."""
    text = json.dumps(embed.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class IncidentRooms:
    """Creates and updates the Discord side of each incident."""

    def __init__(self, bot: OpsroomBot) -> None:
        self.bot = bot
        self._locks: defaultdict[tuple[int, int], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._shown: dict[int, str] = {}  # message id → digest of the card it shows

    async def ensure(self, guild_id: int, number: int) -> Incident:
        """Make whatever of the incident's rooms is missing; returns the incident as stored."""
        async with self._locks[(guild_id, number)]:
            incident, _ = await self._ensure(guild_id, number)
            return incident

    async def refresh(self, guild_id: int, number: int) -> Incident:
        """Ensure the rooms, edit both cards in place, lock or unlock the working channel."""
        async with self._locks[(guild_id, number)]:
            incident, config = await self._ensure(guild_id, number)
            await self._edit_cards(incident, config)
            await self._apply_lock(incident)
            return incident

    async def thread(self, guild_id: int, number: int) -> discord.Thread | None:
        """The incident's operating-room thread (made if missing), or None if there is none."""
        incident = await self.ensure(guild_id, number)
        if incident.room_thread_id is None:
            return None
        channel = await self._channel(incident.room_thread_id)
        return channel if isinstance(channel, discord.Thread) else None

    async def _ensure(self, guild_id: int, number: int) -> tuple[Incident, GuildConfig | None]:
        services = self.bot.services
        incident = await services.incidents.get(guild_id, IncidentRef(number=number))
        config = await services.guilds.get(guild_id)
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            log.warning("not in guild %s: no rooms for incident #%s", guild_id, number)
            return incident, config
        if incident.channel_id is None:
            channel = await self._working_channel(guild, incident, config)
            incident = await self._link(incident, channel_id=channel.id)
        if incident.card_message_id is None:
            channel = await self._channel(incident.channel_id)
            if isinstance(channel, discord.TextChannel):
                card = await self._post_card(channel, incident, nonce=f"card{incident.id}")
                incident = await self._link(incident, card_message_id=card.id)
                try:
                    await card.pin(reason=f"Incident card of {incident.label}")
                except discord.HTTPException:
                    log.warning("could not pin the card of %s", incident.label, exc_info=True)
        room = guild.get_channel(config.operating_room_id) if config else None
        if incident.room_message_id is None and isinstance(room, discord.TextChannel):
            message = await self._post_card(room, incident, nonce=f"room{incident.id}")
            incident = await self._link(incident, room_message_id=message.id)
        thread_missing = incident.room_message_id is not None and incident.room_thread_id is None
        if thread_missing and isinstance(room, discord.TextChannel):
            thread = await self._open_thread(room, incident)
            incident = await self._link(incident, room_thread_id=thread.id)
        return incident, config

    async def _working_channel(
        self, guild: discord.Guild, incident: Incident, config: GuildConfig | None
    ) -> discord.TextChannel:
        """Adopt the channel a crashed attempt made, else create `#inc-N-slug`."""
        category = guild.get_channel(config.incident_category_id) if config else None
        if not isinstance(category, discord.CategoryChannel):
            category = None
        marker = topic_marker(incident)
        for channel in category.text_channels if category else guild.text_channels:
            if channel.topic and channel.topic.endswith(marker):
                return channel
        topic = f"{limits.truncate(incident.label, 900)} — working channel {marker}"
        return await guild.create_text_channel(
            rendering.channel_name(incident),
            category=category,
            topic=topic,
            reason=f"Opsroom: {incident.label} declared",
        )

    async def _post_card(
        self, channel: discord.abc.Messageable, incident: Incident, *, nonce: str
    ) -> discord.Message:
        embed = rendering.incident_card(incident)
        message = await channel.send(embed=embed, nonce=nonce, allowed_mentions=NONE)
        self._shown[message.id] = card_digest(embed)
        return message

    async def _open_thread(self, room: discord.TextChannel, incident: Incident) -> discord.Thread:
        """The thread under the room card; if one exists already, it has the message's id."""
        message = room.get_partial_message(incident.room_message_id or 0)
        try:
            return await message.create_thread(
                name=rendering.thread_name(incident), auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
        except discord.HTTPException as exc:
            if exc.code != THREAD_ALREADY_CREATED:
                raise
        thread = await self._channel(message.id)
        if not isinstance(thread, discord.Thread):
            raise RuntimeError(f"thread {message.id} of {incident.label} cannot be found")
        return thread

    async def _link(self, incident: Incident, **ids: int) -> Incident:
        return await self.bot.services.incidents.link_discord(
            incident.guild_id, incident.number, **ids
        )

    async def _channel(
        self, channel_id: int | None
    ) -> discord.abc.GuildChannel | discord.Thread | None:
        """A channel or thread from the cache, else from Discord (archived threads are not
        cached); None if it was deleted."""
        if channel_id is None:
            return None
        channel = self.bot.get_channel(channel_id)
        if channel is not None:
            return channel  # type: ignore[return-value]
        try:
            return await self.bot.fetch_channel(channel_id)  # type: ignore[return-value]
        except discord.NotFound:
            return None

    async def _edit_cards(self, incident: Incident, config: GuildConfig | None) -> None:
        """Edit the working-channel card and the operating-room card to show the incident."""
        embed = rendering.incident_card(incident)
        digest = card_digest(embed)
        room_id = config.operating_room_id if config else None
        if incident.room_thread_id is not None:
            thread = await self._channel(incident.room_thread_id)
            if isinstance(thread, discord.Thread):
                room_id = thread.parent_id  # the room the card was posted in, even if moved
        cards = [
            (incident.channel_id, incident.card_message_id),
            (room_id, incident.room_message_id),
        ]
        for channel_id, message_id in cards:
            if channel_id is None or message_id is None or self._shown.get(message_id) == digest:
                continue
            channel = await self._channel(channel_id)
            if not isinstance(channel, discord.TextChannel):
                log.warning(
                    "channel %s of %s is gone; card not updated", channel_id, incident.label
                )
                continue
            try:
                await channel.get_partial_message(message_id).edit(
                    embed=embed, allowed_mentions=NONE
                )
            except discord.NotFound:
                log.warning("card %s of %s was deleted; not re-posting", message_id, incident.label)
                continue
            self._shown[message_id] = digest

    async def _apply_lock(self, incident: Incident) -> None:
        """Closed: read-only for everyone but the bot. Reopened: the category's rules again."""
        channel = await self._channel(incident.channel_id)
        if not isinstance(channel, discord.TextChannel):
            return
        guild = channel.guild
        locked = (
            channel.overwrites_for(guild.default_role).send_messages is False
            and channel.overwrites_for(guild.me).send_messages is True
        )
        if incident.status is Status.CLOSED and not locked:
            overwrites = dict(channel.overwrites)
            for target in [*overwrites, guild.default_role]:
                overwrite = overwrites.get(target, discord.PermissionOverwrite())
                overwrite.update(**LOCKED)
                overwrites[target] = overwrite
            overwrites[guild.me] = BOT_WRITES
            await channel.edit(overwrites=overwrites, reason=f"Opsroom: {incident.label} closed")
        elif incident.status is not Status.CLOSED and locked:
            reason = f"Opsroom: {incident.label} reopened"
            if channel.category is not None:
                await channel.edit(sync_permissions=True, reason=reason)
            else:
                overwrites = {t: o for t, o in channel.overwrites.items() if t != guild.me}
                for overwrite in overwrites.values():
                    overwrite.update(**dict.fromkeys(LOCKED))
                await channel.edit(overwrites=overwrites, reason=reason)

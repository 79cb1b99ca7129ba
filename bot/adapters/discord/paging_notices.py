"""Post paging and on-call notices (`Topic.PAGING_NOTICE`) in #alerts, and move the on-call
role when a notice says so (a handoff, an override, an away).

A notice pings at most the one member it names (the new person on call); its text can hold
names and alert titles, which never ping anyone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import limits
from bot.adapters.discord.notifier import nonce
from bot.adapters.discord.reminders import only
from bot.core.events import StoredEvent, Topic
from bot.core.model import Person
from bot.core.paging import Notice

if TYPE_CHECKING:
    from bot.adapters.discord.client import OpsroomBot
    from bot.adapters.discord.notifier import DiscordNotifier

log = logging.getLogger(__name__)

REASON = "Opsroom on-call rotation"


class NoticePoster:
    """The notifier's handler for `Topic.PAGING_NOTICE`."""

    def __init__(self, bot: OpsroomBot) -> None:
        self.bot = bot

    async def __call__(self, stored: StoredEvent) -> None:
        async with self.bot.uow_factory() as uow:
            notice = await uow.paging.notice(stored.event.subject_id)
            config = await uow.guilds.get(stored.event.guild_id)
        if notice is None or config is None:
            return
        if notice.role_to is not None or notice.role_from:
            await self._move_role(notice, config.oncall_role_id)
        if config.alerts_channel_id is None:
            log.warning(
                "guild %s has no alerts channel: notice %s not posted", notice.guild_id, notice.id
            )
            return
        channel = self.bot.get_partial_messageable(
            config.alerts_channel_id, guild_id=notice.guild_id, type=discord.ChannelType.text
        )
        person = Person(notice.ping_user_id, "") if notice.ping_user_id else None
        await channel.send(
            limits.truncate(notice.text, limits.CONTENT),
            nonce=nonce(stored.id),
            allowed_mentions=only(person),
        )

    async def _move_role(self, notice: Notice, role_id: int | None) -> None:
        """Give the on-call role to `role_to` and take it from `role_from` (REST calls, so
        members need not be cached). Missing members are skipped; a missing role is logged."""
        if role_id is None:
            log.warning("guild %s has no on-call role to move", notice.guild_id)
            return
        http = self.bot.http
        for member_id in notice.role_from:
            if member_id != notice.role_to:
                try:
                    await http.remove_role(notice.guild_id, member_id, role_id, reason=REASON)
                except discord.NotFound:
                    log.info("member %s left; no role to take", member_id)
        if notice.role_to is not None:
            try:
                await http.add_role(notice.guild_id, notice.role_to, role_id, reason=REASON)
            except discord.NotFound:
                log.warning("member %s or the on-call role is gone", notice.role_to)


def register_paging(notifier: DiscordNotifier) -> None:
    """Deliver `Topic.PAGING_NOTICE` events through the notifier."""
    notifier.register(Topic.PAGING_NOTICE, NoticePoster(notifier.bot))

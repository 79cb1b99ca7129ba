"""The status page's Discord side: announcements (posted and published) and the scheduled
events of maintenance windows, both driven by the outbox.

Discord lets a channel publish about 10 messages an hour. Announcements take what is left of
that budget (9, one kept in hand): while it lasts each public update is its own post; when it
is spent, updates wait and go out folded into one post as soon as the oldest post of the
hour ages out. The outbox events stay pending (deferred) until their update is posted, so a
restart loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import limits
from bot.adapters.discord.notifier import NONE, classify
from bot.core.events import StoredEvent, Topic
from bot.core.ports import Clock, UnitOfWorkFactory
from bot.core.statuspage import Maintenance, PublicUpdate

if TYPE_CHECKING:
    from bot.adapters.discord.client import OpsroomBot
    from bot.adapters.discord.notifier import DiscordNotifier

log = logging.getLogger(__name__)

PUBLISH_BUDGET = 9
"""Posts published per channel per hour (Discord allows about 10; one is kept in hand)."""
WINDOW = timedelta(hours=1)
STALE = timedelta(hours=6)
"""Public updates older than this when their turn comes are not announced any more."""
RETRY_SECONDS = 60.0


def announcement_text(entries: list[tuple[str, str, PublicUpdate]], url: str) -> str:
    """One post for one or several public updates: title, status, text, the page's link."""
    lines = []
    for title, code, update in entries:
        lines.append(f"**{title}** — {update.status.value.capitalize()}\n{update.body}")
        last_code = code
    if len(entries) > 1:
        lines.insert(0, f"📣 {len(entries)} status updates:")
    lines.append(f"<{url}#incident-{last_code}>")
    return limits.truncate("\n\n".join(lines), limits.CONTENT)


class StatusPageRelay:
    """Announces public updates and keeps maintenance windows' scheduled events."""

    def __init__(
        self, bot: OpsroomBot, uow_factory: UnitOfWorkFactory, clock: Clock, public_url: str
    ) -> None:
        self.bot = bot
        self._uow_factory = uow_factory
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._waiting: dict[int, set[int]] = {}  # guild → deferred event ids
        self._flushers: dict[int, asyncio.Task[None]] = {}
        self.retry_seconds = RETRY_SECONDS

    def register(self, notifier: DiscordNotifier) -> None:
        """Take PUBLIC_UPDATE (deferred: folded) and MAINTENANCE_CHANGED events."""
        self._notifier = notifier
        notifier.register(Topic.PUBLIC_UPDATE, self._take, deferred=True)
        notifier.register(Topic.MAINTENANCE_CHANGED, self._maintenance)

    async def stop(self) -> None:
        """Stop waiting for budget; the events stay pending for the next start."""
        tasks = list(self._flushers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._flushers.clear()
        self._waiting.clear()

    async def _take(self, stored: StoredEvent) -> None:
        guild_id = stored.event.guild_id
        self._waiting.setdefault(guild_id, set()).add(stored.id)
        if guild_id not in self._flushers or self._flushers[guild_id].done():
            self._flushers[guild_id] = asyncio.create_task(self._flush_when_possible(guild_id))

    async def _flush_when_possible(self, guild_id: int) -> None:
        """Post what is waiting once the channel's publish budget allows, then complete."""
        while self._waiting.get(guild_id):
            try:
                wait = await self._flush(guild_id)
            except Exception as exc:
                if classify(exc) in ("gone", "rejected"):
                    log.warning("announcement for guild %s dropped: %s", guild_id, exc)
                    await self._complete(guild_id, set(self._waiting.get(guild_id, ())))
                    return
                log.warning("announcement for guild %s failed (%s); retrying", guild_id, exc)
                wait = self.retry_seconds
            if wait:
                await asyncio.sleep(wait)

    async def _flush(self, guild_id: int) -> float:
        """One attempt: seconds to wait for budget, or 0 when everything waiting was done."""
        taken = set(self._waiting.get(guild_id, ()))
        now = self._clock.now()
        async with self._uow_factory() as uow:
            page = await uow.statuspage.get(guild_id)
            channel_id = page.announcements_channel_id if page and page.enabled else None
            if page is None or channel_id is None:
                pending: list[PublicUpdate] = []
            else:
                pending = await uow.statuspage.unannounced(guild_id, now - STALE)
                used = await uow.statuspage.announced_since(channel_id, now - WINDOW)
                if pending and used >= PUBLISH_BUDGET:
                    return self.retry_seconds
                titles = {
                    p.id: (p.title, p.code)
                    for p in await uow.statuspage.incidents(guild_id, now - STALE)
                }
        if pending and page is not None and channel_id is not None:
            entries = [(*titles.get(u.public_incident_id, ("Incident", "")), u) for u in pending]
            url = f"{self._public_url}/status/{page.slug}"
            await self._post(
                channel_id, [u.id or 0 for u in pending], announcement_text(entries, url)
            )
        await self._complete(guild_id, taken)
        return 0.0

    async def _post(self, channel_id: int, update_ids: list[int], text: str) -> None:
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        assert isinstance(channel, discord.abc.Messageable)
        message = await channel.send(text, nonce=f"pu{update_ids[0]}", allowed_mentions=NONE)
        async with self._uow_factory() as uow:
            await uow.statuspage.mark_announced(
                update_ids, channel_id, message.id, self._clock.now()
            )
            await uow.commit()
        if isinstance(channel, discord.TextChannel) and channel.is_news():
            await message.publish()  # followers in other servers get it

    async def _complete(self, guild_id: int, event_ids: Collection[int]) -> None:
        await self._notifier.complete(event_ids)
        self._waiting.get(guild_id, set()).difference_update(event_ids)

    async def _maintenance(self, stored: StoredEvent) -> None:
        """Make the window's scheduled event, or delete it when the window was cancelled."""
        async with self._uow_factory() as uow:
            window = await uow.statuspage.maintenance(stored.event.subject_id)
            page = await uow.statuspage.get(stored.event.guild_id)
        if window is None:
            return
        guild = self.bot.get_guild(window.guild_id)
        if guild is None:
            return
        if window.cancelled_at is not None:
            if window.event_id is not None:
                with contextlib.suppress(discord.NotFound):
                    event = await guild.fetch_scheduled_event(window.event_id)
                    await event.delete()
                await self.bot.services.statuspage.record_event(window.id or 0, None)
            return
        if window.event_id is not None:
            return
        url = (
            f"{self._public_url}/status/{page.slug}"
            if page is not None and page.enabled
            else "Opsroom maintenance window"
        )
        event = await guild.create_scheduled_event(
            name=limits.truncate(window.title, 100),
            start_time=_event_start(window, self._clock.now()),
            end_time=window.ends_at,
            entity_type=discord.EntityType.external,
            privacy_level=discord.PrivacyLevel.guild_only,
            location=url[:100],
            description=_event_description(window, url),
        )
        await self.bot.services.statuspage.record_event(window.id or 0, event.id)


def _event_start(window: Maintenance, now: datetime) -> datetime:
    """Discord refuses events that start in the past: a running window starts "now"."""
    return max(window.starts_at, now + timedelta(minutes=1))


def _event_description(window: Maintenance, url: str) -> str:
    parts = [f"Scheduled maintenance. Status: {url}"]
    if window.components:
        parts.append("Affects: " + ", ".join(window.components))
    return limits.truncate("\n".join(parts), 1000)

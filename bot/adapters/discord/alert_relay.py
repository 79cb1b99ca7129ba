"""Alerts into `#alerts`: a card per alert edited in place, digests in a storm, and the
escalation pings — from stored state, paced per channel, never pinging by accident.

The notifier hands ALERT_CHANGED and ALERT_ESCALATED events over (`deferred`): the handler
only notes the alert in its guild's queue (`alert_queue.GuildQueue`), whose worker reads
the alerts as stored, does what the channel's budget allows, and completes the events once
Discord shows what they asked for. Until then they stay pending in the outbox, so a restart
finishes the work; and a card is posted with a nonce made from the alert id and its message
id stored on the alert, so no alert is ever posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Iterable
from typing import TYPE_CHECKING, Protocol

import discord

from bot.adapters.discord import alert_rendering
from bot.adapters.discord.alert_buttons import alert_view
from bot.adapters.discord.alert_queue import GuildQueue
from bot.adapters.discord.pacing import Budget
from bot.core.alerts import Alert
from bot.core.events import StoredEvent, Topic
from bot.core.model import GuildConfig
from bot.core.ports import Clock, UnitOfWork, UnitOfWorkFactory

if TYPE_CHECKING:
    from bot.adapters.discord.notifier import DiscordNotifier
    from bot.adapters.metrics import Metrics
    from bot.core.services import AlertService

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
CardParts = tuple[str, discord.Embed, discord.ui.View]
SHOWN_LIMIT = 10_000
HOLD_SECONDS = 3.0  # an interaction must be answered within 3 s anyway
# Discord allows 50 requests per second per bot; the relay keeps room for everything else.
RELAY_PER_SECOND = 35
EDIT_RESERVE = 10  # of those, kept for posts and pings
DIGEST_EDIT_SECONDS = 2.0  # a digest is edited at most this often (each edit lists them all)


class Channels(Protocol):
    """Where the relay posts: channels by id, without fetching them (the bot)."""

    def get_partial_messageable(
        self, id: int, *, guild_id: int | None = None, type: discord.ChannelType | None = None
    ) -> discord.PartialMessageable: ...


class AlertRelay:
    """Owns the per-guild queues, the per-channel budgets and what each message shows."""

    def __init__(
        self,
        channels: Channels,
        notifier: DiscordNotifier,
        alerts: AlertService | None,
        uow_factory: UnitOfWorkFactory,
        *,
        clock: Clock,
        metrics: Metrics | None = None,
        retry_base: float = 1.0,
        retry_max: float = 60.0,
        max_attempts: int = 5,
    ) -> None:
        self.channels = channels
        self.notifier = notifier
        self.alerts = alerts
        self.clock = clock
        self.metrics = metrics
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.max_attempts = max_attempts  # for unexpected errors (bugs) only
        self._uow_factory = uow_factory
        # Separate routes on Discord (create vs edit), so separate budgets per channel.
        self.posts: defaultdict[int, Budget] = defaultdict(Budget)
        self.edits: defaultdict[int, Budget] = defaultdict(Budget)
        self.everywhere = Budget(RELAY_PER_SECOND, 1.0, 0.05)  # every guild's requests
        self.shown: dict[int, str] = {}  # message id → fingerprint of what it shows
        self.digests: dict[int, float] = {}  # digest message id → when last posted or edited
        self._queues: dict[int, GuildQueue] = {}
        self._holds: dict[int, asyncio.Event] = {}  # message id → a button edits it itself
        notifier.register(Topic.ALERT_CHANGED, self._changed, deferred=True)
        notifier.register(Topic.ALERT_ESCALATED, self._escalated, deferred=True)

    # -- the notifier's side ---------------------------------------------------------------

    async def _changed(self, stored: StoredEvent) -> None:
        """Post or edit the alert's message, when the budget allows."""
        self._queue(stored.event.guild_id).note_change(stored.event.subject_id, stored.id)

    async def _escalated(self, stored: StoredEvent) -> None:
        """Ping the role the alert's escalation level names."""
        self._queue(stored.event.guild_id).note_ping(stored.event.subject_id, stored.id)

    def _queue(self, guild_id: int) -> GuildQueue:
        if guild_id not in self._queues:
            self._queues[guild_id] = GuildQueue(self, guild_id)
        return self._queues[guild_id]

    async def posting(self, alert_ids: list[int], channel_id: int) -> None:
        """Store that these alerts are about to be posted in one message in this channel, so
        that if its answer is lost (even to kill -9) the same post is sent again, not a new one.
        """
        assert self.alerts is not None, "a relay built without services cannot post"
        await self.alerts.record_relay(alert_ids, channel_id, None)

    async def record(
        self, alert_ids: list[int], channel_id: int, message_id: int, delivered: list[int]
    ) -> None:
        """Store which message shows these alerts: from now on they are edited, not posted;
        the events the post finished (`delivered`) are done in the same write."""
        assert self.alerts is not None, "a relay built without services cannot post"
        await self.alerts.record_relay(alert_ids, channel_id, message_id, delivered)

    async def complete(self, event_ids: Iterable[int], *, marked: Collection[int] = ()) -> None:
        """The events' work is on Discord (or can never be): done in the outbox (`marked`:
        those already written done)."""
        ids = list(event_ids)
        await self.notifier.complete([e for e in ids if e not in marked])
        self.notifier.forget(ids)

    def report_depth(self) -> None:
        """Publish how much relay work waits, for `/metrics`."""
        if self.metrics is not None:
            self.metrics.set_relay_queue_depth(sum(q.depth for q in self._queues.values()))

    async def stop(self) -> None:
        """Stop the workers; what they had not finished stays pending in the outbox."""
        queues, self._queues = list(self._queues.values()), {}
        for queue in queues:
            await queue.stop()

    # -- reading stored state --------------------------------------------------------------

    async def read(
        self, guild_id: int, alert_ids: Collection[int]
    ) -> tuple[GuildConfig | None, dict[int, Alert], dict[int, str]]:
        """The guild's configuration, these alerts as stored, and their incidents' labels:
        one read-only unit of work, the alerts in batched queries."""
        async with self._uow_factory().reading() as uow:
            config = await uow.guilds.get(guild_id)
            found = await uow.alerts.get_many(alert_ids) if alert_ids else []
            alerts = {a.id: a for a in found if a.id is not None and a.guild_id == guild_id}
            labels = await _labels(uow, alerts.values())
        return config, alerts, labels

    def reader_behind(self) -> bool:
        """Whether the outbox reader has more events to hand out than it has read."""
        return self.notifier.behind

    async def shown_by(self, guild_id: int, message_id: int) -> tuple[list[Alert], dict[int, str]]:
        """The alerts one message shows (its card's, or a digest's), with incident labels."""
        async with self._uow_factory().reading() as uow:
            alerts = await uow.alerts.by_relay_message(guild_id, message_id)
            labels = await _labels(uow, alerts)
        return alerts, labels

    # -- rendering and showing -------------------------------------------------------------

    @staticmethod
    def render_card(alert: Alert, labels: dict[int, str]) -> CardParts:
        """Content, embed and buttons of one alert's card."""
        label = labels.get(alert.incident_id) if alert.incident_id else None
        embed = alert_rendering.card(alert, label)
        return alert_rendering.card_content(alert), embed, alert_view(alert)

    async def card_parts(self, alert: Alert) -> CardParts:
        """The card of one alert, reading its incident's label."""
        async with self._uow_factory().reading() as uow:
            labels = await _labels(uow, [alert])
        return self.render_card(alert, labels)

    async def show_in_place(self, interaction: discord.Interaction, alert: Alert) -> None:
        """Answer a button by editing the card it is on (free of the channel's budget)."""
        content, embed, view = await self.card_parts(alert)
        if interaction.response.is_done():  # a slow database made us defer: say it in words
            text = f"{alert_rendering.state_mark(alert)} Alert `A{alert.id}` is now "
            await interaction.followup.send(
                text + alert_rendering.state_word(alert) + ".",
                ephemeral=True,
                allowed_mentions=NONE,
            )
            return
        await interaction.response.edit_message(
            content=content, embed=embed, view=view, allowed_mentions=NONE
        )
        message = interaction.message
        if message is not None and message.id == alert.relay_message_id:
            self.remember(message.id, alert_rendering.fingerprint(content, embed, view, None))

    @contextlib.asynccontextmanager
    async def in_place(self, message_id: int | None) -> AsyncIterator[None]:
        """A button is changing an alert and will edit this message itself (free of the
        channel's budget): the relay's own edit waits for it and then finds nothing to do."""
        if message_id is None:
            yield
            return
        done = self._holds[message_id] = asyncio.Event()
        try:
            yield
        finally:
            done.set()
            if self._holds.get(message_id) is done:
                del self._holds[message_id]

    async def hold(self, message_id: int) -> None:
        """Wait while a button edits this message in place (see `in_place`)."""
        held = self._holds.get(message_id)
        if held is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(held.wait(), HOLD_SECONDS)

    async def turn(self, *, urgent: bool = True) -> None:
        """Wait until a request fits the relay's share of Discord's global limit, and count
        it at once: guilds' requests are in flight together, and Discord counts a request
        when it arrives, not when its answer is back. Edits (not `urgent`) leave room for
        posts: a guild's new alert never waits behind other guilds' digest edits."""
        room = 1 if urgent else 1 + EDIT_RESERVE
        for _ in range(100):  # others may take the freed room first; then wait again
            wait = self.everywhere.wait(room)
            if wait == 0:
                break
            await asyncio.sleep(wait)
        self.everywhere.spend()

    def mark_digest(self, message_id: int) -> None:
        """Note that a digest was just posted or edited (see `digest_wait`)."""
        self.digests.pop(message_id, None)
        self.digests[message_id] = time.monotonic()
        while len(self.digests) > SHOWN_LIMIT:
            del self.digests[next(iter(self.digests))]

    def digest_wait(self, message_id: int) -> float:
        """Seconds until this digest may be edited again (0: now, or not a digest)."""
        last = self.digests.get(message_id)
        if last is None:
            return 0.0
        return max(last + DIGEST_EDIT_SECONDS - time.monotonic(), 0.0)

    def remember(self, message_id: int, shown: str) -> None:
        """Note what a message shows now; the oldest notes go (a skipped check costs an edit)."""
        self.shown.pop(message_id, None)
        self.shown[message_id] = shown
        while len(self.shown) > SHOWN_LIMIT:
            del self.shown[next(iter(self.shown))]

    def channel(self, guild_id: int, channel_id: int) -> discord.PartialMessageable:
        """A channel to post in by id, cached or not."""
        return self.channels.get_partial_messageable(
            channel_id, guild_id=guild_id, type=discord.ChannelType.text
        )


async def _labels(uow: UnitOfWork, alerts: Iterable[Alert]) -> dict[int, str]:
    """`#12 title` of each incident these alerts are attached to."""
    labels: dict[int, str] = {}
    for incident_id in {a.incident_id for a in alerts if a.incident_id is not None}:
        incident = await uow.incidents.get_by_id(incident_id)
        if incident is not None:
            labels[incident_id] = incident.label
    return labels

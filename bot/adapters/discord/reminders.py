"""Post fired reminders (`Topic.REMINDER_DUE`) in the incident's working channel.

An update nudge pings the commander and an action-due reminder the item's owner: their
allowed mentions name that one user and nothing else, so a title or action text holding
`@everyone` or a role mention still pings nobody. A close nudge pings nobody (it comes a
day later and is not urgent). A reminder whose reason ended between firing and delivery
(an update posted meanwhile, the incident closed, the item done) is skipped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import limits
from bot.adapters.discord.notifier import nonce
from bot.adapters.discord.rendering import mention, ts
from bot.core.events import StoredEvent, Topic
from bot.core.model import ActionItem, GuildConfig, Incident, Person
from bot.core.reminders import Reminder, ReminderKind, still_wanted, update_cadence

if TYPE_CHECKING:
    from bot.adapters.discord.client import OpsroomBot
    from bot.adapters.discord.notifier import DiscordNotifier

log = logging.getLogger(__name__)

LABEL = 200  # characters of an incident label shown in a reminder


def only(person: Person | None) -> discord.AllowedMentions:
    """Allowed mentions that ping `person` and nobody else (no one at all for None)."""
    return discord.AllowedMentions(
        everyone=False,
        users=[discord.Object(person.id)] if person else False,
        roles=False,
        replied_user=False,
    )


def _label(incident: Incident) -> str:
    return f"**{limits.truncate(incident.label, LABEL)}**"


def update_nudge_text(incident: Incident, config: GuildConfig) -> str:
    """`⏰ @commander: no status update on #12 … since …`: what is owed and how to pay it."""
    who = mention(incident.commander) if incident.commander else "Incident commander"
    since = incident.latest_update_at or incident.declared_at
    what = "the last update" if incident.latest_update_at else "it was declared"
    cadence = update_cadence(config, incident.severity)
    every = f" ({incident.severity.value}: one every {int(cadence.total_seconds() // 60)} min)"
    return (
        f"⏰ {who}: no status update on {_label(incident)} since {what}, "
        f"{ts(since, 'R')}{every if cadence else ''}. "
        "Post one with `/incident update` — the operating room is waiting for news."
    )


def close_nudge_text(incident: Incident) -> str:
    """`📋 #12 … was resolved … and is not closed yet`, with what closing does."""
    resolved = f" {ts(incident.resolved_at, 'R')}" if incident.resolved_at else ""
    who = f" (commander {mention(incident.commander)})" if incident.commander else ""
    return (
        f"📋 {_label(incident)} was resolved{resolved} and is not closed yet{who}. "
        "When the follow-up is clear, `/incident close` locks this channel and posts the "
        "postmortem draft."
    )


def action_due_text(incident: Incident, action: ActionItem) -> str:
    """`📌 @owner: action item 3 of #12 … is due 2026-03-03: text`, within one message."""
    who = f"{mention(action.owner)}: action item" if action.owner else "Action item"
    due = action.due.isoformat() if action.due else "today"
    head = f"📌 {who} `{action.seq}` of {_label(incident)} is due {due}: "
    tail = f"\nMark it done with `/action done id:{action.seq}`."
    if not action.owner:
        tail += " It has no owner yet."
    text = limits.truncate(" ".join(action.text.split()), limits.CONTENT - len(head) - len(tail))
    return head + text + tail


def reminder_message(
    reminder: Reminder, incident: Incident, action: ActionItem | None, config: GuildConfig
) -> tuple[str, discord.AllowedMentions]:
    """The text of a fired reminder and whom it may ping."""
    if reminder.kind is ReminderKind.UPDATE_NUDGE:
        return update_nudge_text(incident, config), only(incident.commander)
    if reminder.kind is ReminderKind.CLOSE_NUDGE:
        return close_nudge_text(incident), only(None)
    assert action is not None
    return action_due_text(incident, action), only(action.owner)


class ReminderPoster:
    """The notifier's handler for `Topic.REMINDER_DUE`."""

    def __init__(self, notifier: DiscordNotifier) -> None:
        self.bot: OpsroomBot = notifier.bot
        self.rooms = notifier.rooms

    async def __call__(self, stored: StoredEvent) -> None:
        """Post the reminder the event names, unless its reason ended since it fired."""
        async with self.bot.uow_factory() as uow:
            reminder = await uow.reminders.get(stored.event.subject_id)
            if reminder is None:
                return
            incident = await uow.incidents.get_by_id(reminder.incident_id)
            action = None
            if reminder.kind is ReminderKind.ACTION_DUE:
                action = await uow.actions.get_by_id(reminder.subject_id)
            config = await uow.guilds.get(reminder.guild_id) or GuildConfig(reminder.guild_id)
        if incident is None or not still_wanted(
            reminder, incident=incident, action=action, config=config
        ):
            log.info("reminder %s (%s) is no longer wanted; not posted", reminder.id, reminder.kind)
            return
        channel = await self._working_channel(incident)
        if channel is None:
            log.warning(
                "%s has no working channel; reminder %s not posted", incident.label, reminder.id
            )
            return
        text, mentions = reminder_message(reminder, incident, action, config)
        await channel.send(text, nonce=nonce(stored.id), allowed_mentions=mentions)
        log.info("posted %s reminder %s for %s", reminder.kind, reminder.id, incident.label)

    async def _working_channel(self, incident: Incident) -> discord.abc.Messageable | None:
        """The incident's working channel (made if it is missing), or None if it is gone."""
        if incident.channel_id is None:
            incident = await self.rooms.ensure(incident.guild_id, incident.number)
        if incident.channel_id is None:
            return None
        channel = self.bot.get_channel(incident.channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(incident.channel_id)
            except discord.NotFound:
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None


def register_reminders(notifier: DiscordNotifier) -> None:
    """Deliver `Topic.REMINDER_DUE` events through the notifier."""
    notifier.register(Topic.REMINDER_DUE, ReminderPoster(notifier))

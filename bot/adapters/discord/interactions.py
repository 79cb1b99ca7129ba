"""What every cog needs from an interaction: who acts, which incident, and how to answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot.adapters.discord import limits, rendering
from bot.core.model import OPEN_STATUSES, Member, Person
from bot.core.services import IncidentRef, Services

if TYPE_CHECKING:
    from bot.adapters.discord.client import OpsroomBot

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord wants a first answer within 3 s; a core call normally takes milliseconds.
DEFER_AFTER_SECONDS = 2.0
ANSWER_WITHIN_SECONDS = 2.5
ALREADY_ACKNOWLEDGED = 40060  # Discord's code for a second first answer
"""The latest a first answer may leave, counted from when Discord created the interaction:
Discord drops one not answered within 3 s, and the answer itself takes a round trip."""


def person(user: discord.abc.User) -> Person:
    """A Discord user as the core knows people: id and the name shown in this server."""
    return Person(user.id, getattr(user, "display_name", None) or user.name)


def member(interaction: discord.Interaction) -> Member:
    """The person running the command, with the roles and permission the core's rule reads."""
    roles = getattr(interaction.user, "roles", ())
    return Member(
        person(interaction.user),
        frozenset(role.id for role in roles),
        bool(interaction.permissions.manage_guild),
    )


def ref(interaction: discord.Interaction, number: int | None) -> IncidentRef:
    """The incident named by number, else the one whose channel or thread this is."""
    return IncidentRef(number=number, channel_id=interaction.channel_id)


def guild_id(interaction: discord.Interaction) -> int:
    """The guild of a guild-only command (Discord never sends these from DMs)."""
    assert interaction.guild_id is not None
    return interaction.guild_id


def services(interaction: discord.Interaction) -> Services:
    """The core services the bot was built with."""
    return bot(interaction).services


def bot(interaction: discord.Interaction) -> OpsroomBot:
    """The Opsroom bot handling this interaction."""
    return interaction.client  # type: ignore[return-value]


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False) -> None:
    """Show "thinking…" now, unless an answer already went out."""
    if not interaction.response.is_done():
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)


async def quick(
    interaction: discord.Interaction, work: Awaitable[T], *, ephemeral: bool = False
) -> T:
    """Await a core call; defer only if it is slow, so its refusals can still be ephemeral.

    After a public "thinking…" Discord shows the next answer publicly whatever its flags,
    so a refusal would be seen by everyone. The core call holds every refusal and is fast,
    so it runs first; the defer is the fallback for a slow database.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER_SECONDS)
    if not done:
        await defer(interaction, ephemeral=ephemeral)
    return await task


async def answered_in_time(interaction: discord.Interaction, work: Awaitable[T]) -> T:
    """Run a command's (or control's) work and answers; should nothing have answered
    `ANSWER_WITHIN_SECONDS` after Discord created the interaction, defer privately so
    Discord keeps it, and let the work finish and answer as a followup.

    The one guard every interaction passes through (the command tree and the controls'
    `guarded`), whatever the database or Discord is doing. The defer is private because
    what is that slow is nearly always a refusal ("the database is busy"), which must not
    be shown to everyone; a slow success is then private too, which beats no answer.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=_time_left(interaction))
    if not done and not interaction.response.is_done():
        # A command shows a private "thinking…"; a control defers quietly (its message may
        # still be edited, and a refusal still goes out as a private followup).
        command = interaction.type is discord.InteractionType.application_command
        try:
            await interaction.response.defer(thinking=command, ephemeral=command)
        except discord.HTTPException as exc:  # the work's own answer got there first
            log.debug("late defer not needed: %s", exc)
    return await task


def _time_left(interaction: discord.Interaction) -> float:
    """Seconds until the first answer must leave; the interaction's age (from its snowflake)
    is trusted only up to a second, so a skewed clock cannot make it zero."""
    age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    return ANSWER_WITHIN_SECONDS - min(max(age, 0.0), 1.0)


async def send(
    interaction: discord.Interaction,
    messages: Sequence[str] | str,
    *,
    ephemeral: bool = False,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """Answer with one or more messages (already within limits): first reply, then followups;
    `embed` and `view` go with the first."""
    if isinstance(messages, str):
        messages = limits.split_text(messages)
    parts: list[dict[str, Any]] = [
        {"content": limits.truncate(text, limits.CONTENT)} for text in messages if text
    ] or [{}]
    if embed is not None:
        parts[0]["embed"] = embed
    if view is not None:
        parts[0]["view"] = view
    none = discord.AllowedMentions.none()
    for part in parts:
        if not interaction.response.is_done():
            try:
                await interaction.response.send_message(
                    **part, ephemeral=ephemeral, allowed_mentions=none
                )
                continue
            except discord.HTTPException as exc:
                if exc.code != ALREADY_ACKNOWLEDGED:  # else `answered_in_time` deferred first
                    raise
        await interaction.followup.send(**part, ephemeral=ephemeral, allowed_mentions=none)


async def open_incident_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    """Autocomplete for every `incident` option: open incidents as `#12 title`."""
    if interaction.guild_id is None:
        return []
    try:
        incidents = await services(interaction).incidents.list(interaction.guild_id, OPEN_STATUSES)
    except Exception:  # an autocomplete cannot report errors; an empty list is the answer
        log.exception("incident autocomplete failed")
        return []
    typed = str(current or "").strip().lstrip("#").casefold()
    matches = [
        i
        for i in incidents
        if not typed or str(i.number).startswith(typed) or typed in i.title.casefold()
    ]
    return [
        app_commands.Choice(name=rendering.incident_choice(i), value=i.number)
        for i in matches[: limits.CHOICES]
    ]

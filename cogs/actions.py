"""`/action …`: follow-up items, during the incident or after it."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import choices, rendering
from bot.adapters.discord.interactions import (
    guild_id,
    member,
    open_incident_choices,
    person,
    ref,
    send,
    services,
)
from bot.core.model import ActionKind

INCIDENT = "Incident number (default: the incident of this channel or thread)"


@app_commands.guild_only()
class ActionCog(commands.GroupCog, group_name="action", group_description="Follow-up items"):
    """Add, complete and list an incident's action items."""

    @app_commands.command(name="add")
    @app_commands.describe(
        text="What needs doing",
        owner="Who will do it",
        kind="mitigate, prevent, detect, repair (default) or process",
        due="Due date: YYYY-MM-DD, +3d or +2w",
        incident=INCIDENT,
    )
    @app_commands.choices(kind=choices.ACTION_KINDS)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def add(
        self,
        interaction: discord.Interaction,
        text: app_commands.Range[str, 1, 4000],
        owner: discord.Member | None = None,
        kind: app_commands.Choice[str] | None = None,
        due: app_commands.Range[str, 1, 32] | None = None,
        incident: int | None = None,
    ) -> None:
        """Add a follow-up item."""
        action = await services(interaction).actions.add(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            text,
            owner=person(owner) if owner else None,
            kind=ActionKind(kind.value) if kind else ActionKind.REPAIR,
            due=due,
        )
        await send(interaction, f"Action {rendering.action_line(action)}", ephemeral=True)

    @app_commands.command(name="done")
    @app_commands.describe(item="The action number (see /action list)", incident=INCIDENT)
    @app_commands.rename(item="id")
    @app_commands.autocomplete(incident=open_incident_choices)
    async def done(
        self,
        interaction: discord.Interaction,
        item: app_commands.Range[int, 1],
        incident: int | None = None,
    ) -> None:
        """Mark a follow-up item done."""
        action = await services(interaction).actions.done(
            guild_id(interaction), member(interaction), ref(interaction, incident), item
        )
        await send(interaction, f"Done: {rendering.action_line(action)}", ephemeral=True)

    @app_commands.command(name="list")
    @app_commands.describe(incident=INCIDENT)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def list_actions(
        self, interaction: discord.Interaction, incident: int | None = None
    ) -> None:
        """List the incident's follow-up items."""
        gid, which = guild_id(interaction), ref(interaction, incident)
        found = await services(interaction).incidents.get(gid, which)
        actions = await services(interaction).actions.list(gid, which)
        await send(interaction, rendering.action_list(found, actions), ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    """Load the /action commands."""
    await bot.add_cog(ActionCog())

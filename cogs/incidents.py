"""`/incident …`: declare an incident and run it, from the first alarm to closing it."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import choices, limits, rendering
from bot.adapters.discord.alert_buttons import guarded, static_view
from bot.adapters.discord.interactions import (
    bot,
    defer,
    guild_id,
    member,
    open_incident_choices,
    person,
    quick,
    ref,
    send,
    services,
)
from bot.core import milestones
from bot.core.milestones import MilestoneName
from bot.core.model import OPEN_STATUSES, Incident, IncidentRole, Severity, Status
from bot.core.permissions import ensure_can_change
from bot.core.services import IncidentRef
from bot.core.statuspage import Impact

Choice = app_commands.Choice
Text = app_commands.Range[str, 1, 4000]
Note = app_commands.Range[str, 1, 1000]
INCIDENT = "Incident number (default: the incident of this channel or thread)"


async def in_room(interaction: discord.Interaction) -> bool:
    """Whether the command was used in the read-only operating room or one of its threads."""
    config = await services(interaction).guilds.get(guild_id(interaction))
    room = config.operating_room_id if config else None
    here = {interaction.channel_id, getattr(interaction.channel, "parent_id", None)}
    return room is not None and room in here


async def announce(interaction: discord.Interaction, text: str) -> None:
    """Confirm a change publicly, except in the operating room, which stays the bot's own."""
    await send(interaction, text, ephemeral=await in_room(interaction))


@app_commands.guild_only()
class IncidentCog(commands.GroupCog, group_name="incident", group_description="Run incidents"):
    """Declare, command, classify, update, resolve, close, show and list incidents."""

    @app_commands.command(name="declare")
    @app_commands.describe(
        title="What is wrong, in a few words",
        severity="How bad it is",
        commander="Who leads the response (default: you)",
        summary="A sentence or two of what is known",
        started="When impact began: 14:05, 2:05pm, -15m, 15 min ago, "
        "2026-03-01 14:05 (default: now)",
    )
    @app_commands.choices(severity=choices.SEVERITIES)
    async def declare(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 200],
        severity: Choice[str],
        commander: discord.Member | None = None,
        summary: Note | None = None,
        started: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Declare an incident: working channel, pinned card, operating-room thread."""
        gid = guild_id(interaction)
        incident = await quick(
            interaction,
            services(interaction).incidents.declare(
                gid,
                member(interaction),
                title=title,
                severity=Severity(severity.value),
                commander=person(commander) if commander else None,
                summary=summary or "",
                started=started,
            ),
        )
        await defer(interaction)  # making channels, cards and threads takes a few requests
        incident = await bot(interaction).notifier.rooms.ensure(gid, incident.number)
        lead = incident.commander
        where = f" Responders, join <#{incident.channel_id}>." if incident.channel_id else ""
        await send(
            interaction,
            f"🚨 **{incident.label}** declared, {rendering.severity_text(incident.severity)}; "
            f"commander {rendering.mention(lead) if lead else 'nobody'}.{where}",
        )

    @app_commands.command(name="commander")
    @app_commands.describe(user="The new incident commander", incident=INCIDENT)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def commander(
        self, interaction: discord.Interaction, user: discord.Member, incident: int | None = None
    ) -> None:
        """Hand over command of the incident."""
        changed = await services(interaction).incidents.set_commander(
            guild_id(interaction), member(interaction), ref(interaction, incident), person(user)
        )
        await announce(interaction, f"👤 {user.mention} now commands **{changed.label}**.")

    @app_commands.command(name="role")
    @app_commands.describe(user="Who takes the role", role="The role", incident=INCIDENT)
    @app_commands.choices(role=choices.SUPPORT_ROLES)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def role(
        self,
        interaction: discord.Interaction,
        user: discord.Member,
        role: Choice[str],
        incident: int | None = None,
    ) -> None:
        """Give someone a role: scribe, comms or ops."""
        changed = await services(interaction).incidents.assign_role(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            person(user),
            IncidentRole(role.value),
        )
        await announce(
            interaction, f"👤 {user.mention} is now {role.value} on **{changed.label}**."
        )

    @app_commands.command(name="unrole")
    @app_commands.describe(user="Who gives the role up", role="The role", incident=INCIDENT)
    @app_commands.choices(role=choices.SUPPORT_ROLES)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def unrole(
        self,
        interaction: discord.Interaction,
        user: discord.Member,
        role: Choice[str],
        incident: int | None = None,
    ) -> None:
        """Take a role (scribe, comms or ops) back."""
        changed = await services(interaction).incidents.unassign_role(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            person(user),
            IncidentRole(role.value),
        )
        await announce(
            interaction, f"👤 {user.mention} is no longer {role.value} on **{changed.label}**."
        )

    @app_commands.command(name="severity")
    @app_commands.describe(level="The new severity", incident=INCIDENT)
    @app_commands.choices(level=choices.SEVERITIES)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def severity(
        self, interaction: discord.Interaction, level: Choice[str], incident: int | None = None
    ) -> None:
        """Change the severity."""
        changed = await services(interaction).incidents.set_severity(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            Severity(level.value),
        )
        text = rendering.severity_text(changed.severity)
        await announce(interaction, f"⚠️ **{changed.label}** is now {text}.")

    @app_commands.command(name="status")
    @app_commands.describe(state="The new status", note="Why, or what changed", incident=INCIDENT)
    @app_commands.choices(state=choices.STATUSES)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def status(
        self,
        interaction: discord.Interaction,
        state: Choice[str],
        note: Note | None = None,
        incident: int | None = None,
    ) -> None:
        """Move the incident to another status (moving back is allowed and recorded)."""
        changed = await services(interaction).incidents.set_status(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            Status(state.value),
            note,
        )
        await self._after_status(interaction, changed)

    @app_commands.command(name="update")
    @app_commands.describe(
        text="The update for everyone watching",
        public="Also publish it on the status page (commander or comms only)",
        incident=INCIDENT,
    )
    @app_commands.autocomplete(incident=open_incident_choices)
    async def update(
        self,
        interaction: discord.Interaction,
        text: Text,
        public: bool = False,
        incident: int | None = None,
    ) -> None:
        """Post a status update: shown on the card and in the operating room."""
        changed = await services(interaction).incidents.post_update(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            text,
            public=public,
        )
        where = " and on the status page" if public else ""
        said = limits.truncate(" ".join(text.split()), 300)
        await announce(interaction, f"📣 Update on **{changed.label}** posted{where}: {said}")

    @app_commands.command(name="publish")
    @app_commands.describe(
        title="The public title (the internal one is never shown)",
        components="Affected components, comma-separated",
        impact="How bad it is for the public (default: minor)",
        incident=INCIDENT,
    )
    @app_commands.choices(impact=[Choice(name=i.value, value=i.value) for i in Impact])
    @app_commands.autocomplete(incident=open_incident_choices)
    async def publish(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 200],
        components: app_commands.Range[str, 1, 1000] | None = None,
        impact: Choice[str] | None = None,
        incident: int | None = None,
    ) -> None:
        """Put the incident on the public status page (commander or comms only)."""
        public = await services(interaction).statuspage.publish(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            title,
            components,
            Impact(impact.value) if impact else None,
        )
        page = await services(interaction).statuspage.get(guild_id(interaction))
        url = f"{bot(interaction).public_url}/status/{page.slug}" if page else "the status page"
        await announce(
            interaction, f"🌐 Published as **{public.title}** ({public.impact.value}) on {url}."
        )

    @app_commands.command(name="resolve")
    @app_commands.describe(note="How it was resolved", incident=INCIDENT)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def resolve(
        self,
        interaction: discord.Interaction,
        note: Note | None = None,
        incident: int | None = None,
    ) -> None:
        """Mark the impact over."""
        changed = await services(interaction).incidents.resolve(
            guild_id(interaction), member(interaction), ref(interaction, incident), note
        )
        await self._after_status(interaction, changed)

    @app_commands.command(name="close")
    @app_commands.describe(incident=INCIDENT)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def close(self, interaction: discord.Interaction, incident: int | None = None) -> None:
        """Close the incident; its working channel becomes read-only."""
        gid = guild_id(interaction)
        found = await services(interaction).incidents.get(gid, ref(interaction, incident))
        config = await services(interaction).guilds.get(gid)
        ensure_can_change(member(interaction), config)  # watchers are refused before asking
        if found.status not in (Status.RESOLVED, Status.CLOSED):
            # Closing ends the nudges and locks the channel: a slip of the finger should not.
            await interaction.response.send_message(
                f"⚠️ **{found.label}** is still {found.status.value}, not resolved. Close it "
                "anyway? (Or `/incident resolve` first.)",
                view=static_view(CloseAnywayButton(found.number)),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        await self.close_now(interaction, found.number)

    async def close_now(self, interaction: discord.Interaction, number: int) -> None:
        """Close incident `number` and say so (the command, or its confirmation button)."""
        changed = await quick(
            interaction,
            services(interaction).incidents.close(
                guild_id(interaction), member(interaction), IncidentRef(number=number)
            ),
        )
        await self._after_status(interaction, changed)

    async def _after_status(self, interaction: discord.Interaction, changed: Incident) -> None:
        """Bring the channel in line before saying so (close locks it, reopening unlocks it)."""
        quiet = await in_room(interaction)
        if changed.status is Status.CLOSED:
            await defer(interaction, ephemeral=quiet)  # locking the channel takes a request or two
            await bot(interaction).notifier.rooms.refresh(changed.guild_id, changed.number)
            where = f" <#{changed.channel_id}> is now read-only." if changed.channel_id else ""
            text = f"🔒 **{changed.label}** is closed.{where}"
        else:
            text = f"🔄 **{changed.label}** is now {changed.status.value}."
        await send(interaction, text, ephemeral=quiet)

    @app_commands.command(name="milestone")
    @app_commands.describe(
        name="Which milestone",
        at="When it really was: 14:05, 2:05pm, -15m, 15 min ago, 2026-03-01 14:05, ISO 8601",
        incident=INCIDENT,
    )
    @app_commands.choices(name=choices.MILESTONES)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def milestone(
        self,
        interaction: discord.Interaction,
        name: Choice[str],
        at: app_commands.Range[str, 1, 64],
        incident: int | None = None,
    ) -> None:
        """Set or correct a milestone (started, detected, acknowledged, mitigated, resolved)."""
        which = MilestoneName(name.value)
        changed = await services(interaction).incidents.set_milestone(
            guild_id(interaction), member(interaction), ref(interaction, incident), which, at
        )
        when = milestones.get(changed, which)
        assert when is not None
        await announce(
            interaction,
            f"📍 {which.label} of **{changed.label}** is now {rendering.ts(when)}; "
            "it stays as set.",
        )

    @app_commands.command(name="show")
    @app_commands.describe(incident=INCIDENT)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def show(self, interaction: discord.Interaction, incident: int | None = None) -> None:
        """Show the incident card."""
        found = await services(interaction).incidents.get(
            guild_id(interaction), ref(interaction, incident)
        )
        where = f"Working channel: <#{found.channel_id}>" if found.channel_id else ""
        await send(interaction, where, embed=rendering.incident_card(found), ephemeral=True)

    @app_commands.command(name="list")
    @app_commands.describe(status="Only incidents in this status (default: open ones)")
    @app_commands.choices(status=choices.STATUSES)
    async def list_incidents(
        self, interaction: discord.Interaction, status: Choice[str] | None = None
    ) -> None:
        """List open incidents, or those in one status."""
        statuses = {Status(status.value)} if status else OPEN_STATUSES
        found = await services(interaction).incidents.list(guild_id(interaction), statuses)
        what = f"{status.value} incidents" if status else "open incidents"
        await send(interaction, rendering.incident_list(found, what), ephemeral=True)


class CloseAnywayButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"opsroom:incident:close:(?P<number>\d+)",
):
    """Confirms closing an incident that was never resolved (works after a restart too)."""

    def __init__(self, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Close anyway",
                emoji="🔒",
                style=discord.ButtonStyle.danger,
                custom_id=f"opsroom:incident:close:{number}",
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CloseAnywayButton:
        return cls(int(match["number"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog("IncidentCog")  # type: ignore[attr-defined]
        await guarded(interaction, cog.close_now(interaction, self.number))


async def setup(bot: commands.Bot) -> None:
    """Load the /incident commands."""
    bot.add_dynamic_items(CloseAnywayButton)
    await bot.add_cog(IncidentCog())

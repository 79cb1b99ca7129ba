"""`/postmortem …`: what the authors write into the draft, and the draft itself as a file."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import choices
from bot.adapters.discord.interactions import (
    guild_id,
    member,
    open_incident_choices,
    quick,
    ref,
    send,
    services,
)
from bot.adapters.discord.postmortem import attachments, draft_file, draft_message, draw_picture
from bot.core.model import Incident, PostmortemSection
from bot.core.services import IncidentRef, Services
from bot.postmortem.export import export_markdown

INCIDENT = "Incident number (default: the incident of this channel or thread)"


async def current_draft(
    svc: Services, gid: int, which: IncidentRef
) -> tuple[Incident, str, bytes | None]:
    """The incident `which` names, its draft and its picture as they are now (anyone may)."""
    incident = await svc.incidents.get(gid, which)
    markdown = await export_markdown(svc, gid, incident.number)
    return incident, markdown, await draw_picture(svc, incident)


@app_commands.guild_only()
class PostmortemCog(
    commands.GroupCog, group_name="postmortem", group_description="The postmortem draft"
):
    """Add to the draft's sections and show the draft as it stands."""

    @app_commands.command(name="add")
    @app_commands.describe(
        section="Which section of the draft",
        text="What to add to it (appended after what is there)",
        incident=INCIDENT,
    )
    @app_commands.choices(section=choices.POSTMORTEM_SECTIONS)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def add(
        self,
        interaction: discord.Interaction,
        section: app_commands.Choice[str],
        text: app_commands.Range[str, 1, 4000],
        incident: int | None = None,
    ) -> None:
        """Add text to a section of the postmortem draft."""
        await services(interaction).postmortem.add_note(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            PostmortemSection(section.value),
            text,
        )
        await send(
            interaction,
            f"📝 Added to **{section.name}** of the draft; `/postmortem show` shows it.",
            ephemeral=True,
        )

    @app_commands.command(name="show")
    @app_commands.describe(incident=INCIDENT)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def show(self, interaction: discord.Interaction, incident: int | None = None) -> None:
        """Attach the current postmortem draft (Markdown) and its picture (PNG), privately."""
        found, markdown, png = await quick(
            interaction,
            current_draft(services(interaction), guild_id(interaction), ref(interaction, incident)),
            ephemeral=True,
        )
        draft = draft_file(markdown, found)
        text = draft_message(found, draft, closed=False)
        files = attachments(draft, png, found)
        none = discord.AllowedMentions.none()
        if interaction.response.is_done():  # deferred: rendering a long timeline was slow
            await interaction.followup.send(
                text, files=files, ephemeral=True, allowed_mentions=none
            )
        else:
            await interaction.response.send_message(
                text, files=files, ephemeral=True, allowed_mentions=none
            )


async def setup(bot: commands.Bot) -> None:
    """Load the /postmortem commands."""
    await bot.add_cog(PostmortemCog())

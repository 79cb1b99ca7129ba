"""`/timeline …` and the **Add to timeline** message menu: what happened, and when."""

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
from bot.core.model import EntryKind
from bot.core.services import ChatMessage

INCIDENT = "Incident number (default: the incident of this channel or thread)"
AT = "When it happened: 14:05, 2:05pm, -15m, 15 min ago, 2026-03-01 14:05, ISO 8601 (default: now)"
KIND = "What the entry is: note (default), report, evidence, action or decision"
Text = app_commands.Range[str, 1, 4000]
At = app_commands.Range[str, 1, 64]


def chat_message(message: discord.Message) -> ChatMessage:
    """A Discord message as the core takes it: text, or what it carries when it has none."""
    text = message.content
    if not text.strip():
        parts = [e.title or e.description or "" for e in message.embeds]
        parts += [a.url for a in message.attachments]
        text = "\n".join(p for p in parts if p)
    return ChatMessage(
        id=message.id,
        channel_id=message.channel.id,
        author=person(message.author),
        text=text,
        sent_at=message.created_at,
        jump_url=message.jump_url,
    )


@app_commands.guild_only()
class TimelineCog(commands.GroupCog, group_name="timeline", group_description="The timeline"):
    """Add, show, edit and delete timeline entries; edits keep an audit trail."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Add to timeline", callback=self.add_message)
        app_commands.guild_only()(self.menu)

    async def cog_load(self) -> None:
        """Context menus cannot live in a group: register the menu on the tree itself."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Take the menu away with the cog."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def add_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The message becomes an entry with its own time, author and link (once)."""
        entry, added = await services(interaction).timeline.add_message(
            guild_id(interaction), member(interaction), chat_message(message)
        )
        if added:
            await send(
                interaction, f"📝 Added to the timeline as entry {entry.seq}.", ephemeral=True
            )
        else:
            await send(interaction, f"That message is already entry {entry.seq}.", ephemeral=True)

    @app_commands.command(name="add")
    @app_commands.describe(text="What happened", at=AT, kind=KIND, incident=INCIDENT)
    @app_commands.choices(kind=choices.ENTRY_KINDS)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def add(
        self,
        interaction: discord.Interaction,
        text: Text,
        at: At | None = None,
        kind: app_commands.Choice[str] | None = None,
        incident: int | None = None,
    ) -> None:
        """Add an entry to the timeline."""
        entry = await services(interaction).timeline.add(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            text,
            at,
            EntryKind(kind.value) if kind else EntryKind.NOTE,
        )
        mark = rendering.KIND_MARKS[entry.kind]
        what = "" if entry.kind is EntryKind.NOTE else f" as {entry.kind.value}"
        when = rendering.ts(entry.event_at)
        await send(interaction, f"{mark} Entry {entry.seq} added{what} at {when}.", ephemeral=True)

    @app_commands.command(name="show")
    @app_commands.describe(last="Only the latest N entries", incident=INCIDENT)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def show(
        self,
        interaction: discord.Interaction,
        last: app_commands.Range[int, 1, 1000] | None = None,
        incident: int | None = None,
    ) -> None:
        """Show the timeline in event order."""
        gid, which = guild_id(interaction), ref(interaction, incident)
        found = await services(interaction).incidents.get(gid, which)
        entries = await services(interaction).timeline.show(gid, which, last)
        await send(interaction, rendering.timeline_messages(found, entries), ephemeral=True)

    @app_commands.command(name="edit")
    @app_commands.describe(
        entry="The entry number (see /timeline show)",
        text="The new text",
        at=AT,
        kind=KIND,
        incident=INCIDENT,
    )
    @app_commands.rename(entry="id")
    @app_commands.choices(kind=choices.ENTRY_KINDS)
    @app_commands.autocomplete(incident=open_incident_choices)
    async def edit(
        self,
        interaction: discord.Interaction,
        entry: app_commands.Range[int, 1],
        text: Text | None = None,
        at: At | None = None,
        kind: app_commands.Choice[str] | None = None,
        incident: int | None = None,
    ) -> None:
        """Change an entry's text, time or kind (the old version stays in the audit trail)."""
        edited = await services(interaction).timeline.edit(
            guild_id(interaction),
            member(interaction),
            ref(interaction, incident),
            entry,
            text,
            at,
            EntryKind(kind.value) if kind else None,
        )
        article = "an" if edited.kind.value[0] in "aeiou" else "a"
        what = (
            "" if edited.kind is EntryKind.NOTE else f" (now {article} {edited.kind.value} entry)"
        )
        await send(interaction, f"✏️ Entry {edited.seq} edited{what}.", ephemeral=True)

    @app_commands.command(name="delete")
    @app_commands.describe(entry="The entry number (see /timeline show)", incident=INCIDENT)
    @app_commands.rename(entry="id")
    @app_commands.autocomplete(incident=open_incident_choices)
    async def delete(
        self,
        interaction: discord.Interaction,
        entry: app_commands.Range[int, 1],
        incident: int | None = None,
    ) -> None:
        """Delete an entry (kept in the audit trail)."""
        deleted = await services(interaction).timeline.delete(
            guild_id(interaction), member(interaction), ref(interaction, incident), entry
        )
        await send(interaction, f"🗑️ Entry {deleted.seq} deleted.", ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    """Load the /timeline commands and the Add to timeline menu."""
    await bot.add_cog(TimelineCog(bot))

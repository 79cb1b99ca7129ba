"""`/statuspage …` and `/maintenance …`: the public status page, run from Discord."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord.interactions import bot, guild_id, member, send, services
from bot.core.statuspage import ComponentState, Maintenance

Choice = app_commands.Choice
Name = app_commands.Range[str, 1, 100]
STATES = [Choice(name=s.value, value=s.value) for s in ComponentState]


def page_url(interaction: discord.Interaction, slug: str) -> str:
    """Where the page is served (from OPSROOM_PUBLIC_URL)."""
    return f"{bot(interaction).public_url}/status/{slug}"


def window_line(m: Maintenance) -> str:
    """`3 · Database upgrade · <t:…:f> – <t:…:f> · monitors: db` for /maintenance list."""
    start, end = int(m.starts_at.timestamp()), int(m.ends_at.timestamp())
    parts = [f"**{m.id}** · {m.title}", f"<t:{start}:f> – <t:{end}:f>"]
    if m.components:
        parts.append("components: " + ", ".join(m.components))
    if m.monitors:
        parts.append("monitors: " + ", ".join(m.monitors))
    return " · ".join(parts)


async def component_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete the guild's component names."""
    if interaction.guild_id is None:
        return []
    try:
        found = await services(interaction).statuspage.components(interaction.guild_id)
    except Exception:  # an autocomplete cannot report errors
        return []
    typed = str(current or "").casefold()
    return [Choice(name=c.name, value=c.name) for c in found if typed in c.name.casefold()][:25]


@app_commands.guild_only()
class StatusPageCog(
    commands.GroupCog, group_name="statuspage", group_description="The public status page"
):
    """Enable or disable the page and keep its components."""

    component = app_commands.Group(name="component", description="The page's components")

    @app_commands.command(name="enable")
    @app_commands.describe(
        slug="The page's address: /status/<slug> (lowercase letters, digits, hyphens)",
        title="The page's title (default: Status)",
        announcements="An announcement channel: public updates are posted and published there",
    )
    async def enable(
        self,
        interaction: discord.Interaction,
        slug: app_commands.Range[str, 1, 40],
        title: app_commands.Range[str, 1, 200] | None = None,
        announcements: discord.TextChannel | None = None,
    ) -> None:
        """Serve the public status page (Manage Server)."""
        if announcements is not None and not announcements.is_news():
            await send(
                interaction,
                f"{announcements.mention} is not an announcement channel: its posts could not "
                "be published to followers. Choose an announcement channel.",
                ephemeral=True,
            )
            return
        page = await services(interaction).statuspage.enable(
            guild_id(interaction),
            member(interaction),
            slug,
            title,
            announcements.id if announcements else None,
        )
        where = (
            f"; public updates go to <#{page.announcements_channel_id}>" if announcements else ""
        )
        await send(
            interaction,
            f"🌐 Status page **{page.title}** is live at "
            f"{page_url(interaction, page.slug)}{where}.",
            ephemeral=True,
        )

    @app_commands.command(name="disable")
    async def disable(self, interaction: discord.Interaction) -> None:
        """Stop serving the status page; what was published is kept (Manage Server)."""
        page = await services(interaction).statuspage.disable(
            guild_id(interaction), member(interaction)
        )
        await send(
            interaction, f"The status page `{page.slug}` is no longer served.", ephemeral=True
        )

    @component.command(name="add")
    @app_commands.describe(name="What the public calls it", group="A heading to list it under")
    async def component_add(
        self, interaction: discord.Interaction, name: Name, group: Name | None = None
    ) -> None:
        """Add a component to the status page (responders)."""
        added = await services(interaction).statuspage.add_component(
            guild_id(interaction), member(interaction), name, group
        )
        under = f" under {added.group}" if added.group else ""
        await send(interaction, f"Component **{added.name}** added{under}.", ephemeral=True)

    @component.command(name="remove")
    @app_commands.describe(name="The component")
    @app_commands.autocomplete(name=component_choices)
    async def component_remove(self, interaction: discord.Interaction, name: Name) -> None:
        """Take a component off the status page (responders)."""
        removed = await services(interaction).statuspage.remove_component(
            guild_id(interaction), member(interaction), name
        )
        await send(interaction, f"Component **{removed.name}** removed.", ephemeral=True)

    @component.command(name="set")
    @app_commands.describe(name="The component", state="Its state, in Statuspage's words")
    @app_commands.autocomplete(name=component_choices)
    @app_commands.choices(state=STATES)
    async def component_set(
        self, interaction: discord.Interaction, name: Name, state: Choice[str]
    ) -> None:
        """Set a component's state on the status page (responders)."""
        changed = await services(interaction).statuspage.set_component(
            guild_id(interaction), member(interaction), name, ComponentState(state.value)
        )
        await send(
            interaction, f"**{changed.name}** is now {changed.state.label.lower()}.", ephemeral=True
        )


@app_commands.guild_only()
class MaintenanceCog(
    commands.GroupCog, group_name="maintenance", group_description="Scheduled maintenance"
):
    """Schedule, list and cancel maintenance windows."""

    @app_commands.command(name="schedule")
    @app_commands.describe(
        title="What the public reads",
        start="When it starts: +2h, HH:MM, YYYY-MM-DD HH:MM (server timezone) or ISO 8601",
        end="When it ends, in the same forms",
        components="Components affected, comma-separated",
        monitors="Monitors whose alerts stay quiet in the window, comma-separated",
    )
    async def schedule(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 200],
        start: app_commands.Range[str, 1, 64],
        end: app_commands.Range[str, 1, 64],
        components: app_commands.Range[str, 1, 1000] | None = None,
        monitors: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        """Schedule maintenance: a notice on the page, an event, quiet alerts (responders)."""
        window = await services(interaction).statuspage.schedule_maintenance(
            guild_id(interaction), member(interaction), title, start, end, components, monitors
        )
        await send(interaction, f"🛠️ Maintenance scheduled: {window_line(window)}")

    @app_commands.command(name="list")
    async def list_windows(self, interaction: discord.Interaction) -> None:
        """List maintenance that has not ended yet."""
        found = await services(interaction).statuspage.maintenances(guild_id(interaction))
        text = "\n".join(window_line(m) for m in found) or "No maintenance is scheduled."
        await send(interaction, text, ephemeral=True)

    @app_commands.command(name="cancel")
    @app_commands.describe(window="The maintenance number (see /maintenance list)")
    @app_commands.rename(window="id")
    async def cancel(
        self, interaction: discord.Interaction, window: app_commands.Range[int, 1]
    ) -> None:
        """Cancel maintenance: its notice, its event and its quiet alerts (responders)."""
        cancelled = await services(interaction).statuspage.cancel_maintenance(
            guild_id(interaction), member(interaction), window
        )
        await send(interaction, f"Maintenance **{cancelled.id}** ({cancelled.title}) cancelled.")


async def setup(bot: commands.Bot) -> None:
    """Load the /statuspage and /maintenance commands."""
    await bot.add_cog(StatusPageCog())
    await bot.add_cog(MaintenanceCog())

"""`/oncall …`: pagers beyond Discord (Apprise URLs) and their test pages."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import limits, rendering
from bot.adapters.discord.interactions import guild_id, person, send, services
from bot.adapters.discord.interactions import member as acting
from bot.core.paging import Pager, PagerLevel

LEVELS = [
    app_commands.Choice(name="oncall (with the on-call role's pings)", value="oncall"),
    app_commands.Choice(name="escalation (with the escalation role's pings)", value="escalation"),
]


def pager_line(pager: Pager) -> str:
    """`3` **phone** · oncall · ntfy://…/**** · wakes @x: one pager, secrets masked."""
    parts = [f"`{pager.id}` **{limits.truncate(pager.name, 100)}**", pager.level.value]
    parts.append(f"`{limits.truncate(pager.url_masked, 200)}`")
    if pager.member is not None:
        parts.append(f"wakes {rendering.mention(pager.member)}")
    if pager.failing_since is not None:
        parts.append(f"⚠️ failing since {rendering.ts(pager.failing_since, 'R')}")
    if pager.last_test_ok_at is not None:
        parts.append(f"tested {rendering.ts(pager.last_test_ok_at, 'R')}")
    else:
        parts.append("never tested: `/oncall test`")
    return " · ".join(parts)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class OncallCog(commands.GroupCog, group_name="oncall", group_description="Paging and on-call"):
    """Pagers and test pages (Manage Server; the core refuses others too)."""

    pager = app_commands.Group(name="pager", description="Pagers beyond Discord (Apprise URLs)")

    @pager.command(name="add")
    @app_commands.describe(
        url="An Apprise URL, e.g. ntfy://ntfy.sh/my-topic or mailto://user:pass@example.com",
        level="oncall (default) or escalation",
        name="A name for it, e.g. phone (default: the service)",
        member="The person it wakes: a rotation pages only the member on duty",
    )
    @app_commands.choices(level=LEVELS)
    async def pager_add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        level: app_commands.Choice[str] | None = None,
        name: app_commands.Range[str, 1, 100] | None = None,
        member: discord.Member | None = None,
    ) -> None:
        """Page this URL when alerts escalate; the URL is checked, then never shown again."""
        pager = await services(interaction).paging.add(
            guild_id(interaction),
            acting(interaction),
            url,
            level=PagerLevel(level.value) if level else PagerLevel.ONCALL,
            name=name,
            member=person(member) if member else None,
        )
        await send(
            interaction,
            f"📟 Pager added: {pager_line(pager)}\nSend it a test page with "
            f"`/oncall test pager:{pager.id}`.",
            ephemeral=True,
        )

    @pager.command(name="list")
    async def pager_list(self, interaction: discord.Interaction) -> None:
        """This server's pagers (URLs with their secrets masked)."""
        pagers = await services(interaction).paging.list(guild_id(interaction))
        if not pagers:
            await send(
                interaction, "No pagers yet: add one with `/oncall pager add`.", ephemeral=True
            )
            return
        lines = [pager_line(p) for p in pagers]
        await send(
            interaction,
            limits.pack_lines(lines, header=f"**{len(pagers)} pagers**"),
            ephemeral=True,
        )

    @pager.command(name="remove")
    @app_commands.describe(id="The pager's number, as /oncall pager list shows it")
    async def pager_remove(
        self, interaction: discord.Interaction, id: app_commands.Range[int, 1]
    ) -> None:
        """Stop paging it."""
        pager = await services(interaction).paging.remove(
            guild_id(interaction), acting(interaction), id
        )
        await send(interaction, f"🗑️ {pager.label} is removed.", ephemeral=True)

    @app_commands.command(name="test")
    @app_commands.describe(pager="The pager's number (default: every pager)")
    async def test(
        self, interaction: discord.Interaction, pager: app_commands.Range[int, 1] | None = None
    ) -> None:
        """Send a test page; acknowledge it through its link, the result goes to #alerts."""
        pagers = await services(interaction).paging.test(
            guild_id(interaction), acting(interaction), pager
        )
        names = ", ".join(p.label for p in pagers)
        await send(
            interaction,
            f"🧪 Test page queued for {names}. Open its link and press Acknowledge; the result "
            "(answered after N seconds, or not within 10 minutes) is posted in #alerts.",
            ephemeral=True,
        )


async def setup(bot: commands.Bot) -> None:
    """Load the /oncall commands."""
    await bot.add_cog(OncallCog())

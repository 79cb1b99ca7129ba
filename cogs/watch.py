"""`/watch cert|list|remove`: TLS certificates the bot checks itself (responders)."""

from __future__ import annotations

from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import limits, rendering
from bot.adapters.discord.interactions import guild_id, member, quick, send, services
from bot.core.certs import CertCheck, CertWatch


@app_commands.guild_only()
class WatchCog(commands.GroupCog, group_name="watch", group_description="Certificate watch"):
    """Watched certificates: alerts 14, 7 and 2 days before they expire, and when they break."""

    @app_commands.command(name="cert")
    @app_commands.describe(
        host="The host name, e.g. example.com (a URL works too)",
        port="TCP port (default 443)",
        owner="Who renews it, named in every alert",
        runbook="How to renew it (a link or a few words), named in every alert",
    )
    async def cert(
        self,
        interaction: discord.Interaction,
        host: app_commands.Range[str, 1, 300],
        port: app_commands.Range[int, 1, 65535] | None = None,
        owner: app_commands.Range[str, 1, 200] | None = None,
        runbook: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """Watch a TLS certificate; it is checked now and at least every 6 hours."""
        watch, check = await quick(
            interaction,
            services(interaction).certs.add(
                guild_id(interaction), member(interaction), host, port, owner, runbook
            ),
            ephemeral=True,
        )
        await send(interaction, watch_added(watch, check), ephemeral=True)

    @app_commands.command(name="list")
    async def list_watches(self, interaction: discord.Interaction) -> None:
        """Show the watched certificates and what their last check found."""
        watches = await services(interaction).certs.list(guild_id(interaction))
        await send(interaction, watch_list(watches), ephemeral=True)

    @app_commands.command(name="remove")
    @app_commands.describe(id="The watch's number, as /watch list shows it")
    async def remove(
        self, interaction: discord.Interaction, id: app_commands.Range[int, 1]
    ) -> None:
        """Stop watching a certificate; its open alerts resolve."""
        watch = await services(interaction).certs.remove(
            guild_id(interaction), member(interaction), id
        )
        await send(interaction, f"🗑️ No longer watching {watch.where}.", ephemeral=True)


def _state(watch: CertWatch) -> str:
    if watch.last_checked_at is None:
        return "not checked yet"
    if watch.problem is not None:
        return f"⚠️ {watch.problem.value.replace('_', ' ')}: {watch.detail}"
    assert watch.not_after is not None
    until = watch.not_after
    return f"✅ valid until {rendering.ts(until, 'D')} ({rendering.ts(until, 'R')})"


def watch_added(watch: CertWatch, check: CertCheck) -> str:
    """The answer to `/watch cert`: what the first check found and what happens next."""
    text = f"🔒 Watch {watch.id}: {watch.where} — {_state(watch)}."
    if check.problem is not None and watch.failures < 3 and check.not_after is None:
        text += " It is checked again soon; an alert follows if it stays that way."
    return text + " Alerts go to #alerts 14, 7 and 2 days before it expires (2 days pages)."


def watch_list(watches: list[CertWatch]) -> list[str]:
    """`/watch list`: one line per watch."""
    if not watches:
        return ["No certificates watched yet: add one with `/watch cert`."]
    lines = []
    for watch in watches:
        owner = f" · owner {limits.truncate(watch.owner, 80)}" if watch.owner else ""
        checked = _checked(watch.last_checked_at)
        lines.append(f"`{watch.id}` **{watch.where}** · {_state(watch)}{owner} · {checked}")
    return limits.pack_lines(
        lines, header=f"**{len(watches)} watched certificate{'' if len(watches) == 1 else 's'}**"
    )


def _checked(at: datetime | None) -> str:
    return f"checked {rendering.ts(at, 'R')}" if at else "not checked yet"


async def setup(bot: commands.Bot) -> None:
    """Load the /watch commands."""
    await bot.add_cog(WatchCog())

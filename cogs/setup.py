"""`/opsroom setup`, `/opsroom status` and the webhook tokens: the Manage Server side of a
guild."""

from __future__ import annotations

import functools
import zoneinfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import limits, permissions, provisioning, rendering
from bot.adapters.discord.interactions import (
    bot,
    defer,
    guild_id,
    member,
    quick,
    send,
    services,
)
from bot.config import public_url_warnings
from bot.core.alerts import WEBHOOK_SOURCES, AlertSource
from bot.core.heartbeats import Heartbeat, schedule_option, schedule_text
from bot.core.webhooks import Webhook
from bot.monitor_guides import guide_for

SOURCES = [app_commands.Choice(name=s.value, value=s.value) for s in WEBHOOK_SOURCES]


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


async def timezone_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """IANA timezones matching what was typed, names starting with it first."""
    typed = (current or "").strip().casefold().replace(" ", "_")
    starts = [z for z in _zones() if z.casefold().startswith(typed)]
    contains = [z for z in _zones() if typed in z.casefold() and z not in starts]
    return [app_commands.Choice(name=z, value=z) for z in (starts + contains)[: limits.CHOICES]]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class OpsroomCog(commands.GroupCog, group_name="opsroom", group_description="Set up Opsroom"):
    """Guild configuration: Manage Server only (Discord hides it; the core refuses too)."""

    @app_commands.command(name="setup")
    @app_commands.describe(
        responder_role="Members who may change incidents",
        oncall_role="Pinged when an alert is not acknowledged",
        escalation_role="Pinged when on-call does not answer",
        alerts_channel="Where alerts appear (default: #alerts, created if missing)",
        operating_room="Read-only live view (default: #operating-room, created if missing)",
        incident_category="Where #inc-N channels go (default: Incidents, created if missing)",
        timezone="IANA timezone for times typed without an offset, e.g. Europe/Berlin",
    )
    @app_commands.autocomplete(timezone=timezone_choices)
    async def setup_guild(
        self,
        interaction: discord.Interaction,
        responder_role: discord.Role,
        oncall_role: discord.Role | None = None,
        escalation_role: discord.Role | None = None,
        alerts_channel: discord.TextChannel | None = None,
        operating_room: discord.TextChannel | None = None,
        incident_category: discord.CategoryChannel | None = None,
        timezone: str | None = None,
    ) -> None:
        """Configure Opsroom here; running it again keeps what exists."""
        gid, actor, guilds = (
            guild_id(interaction),
            member(interaction),
            services(interaction).guilds,
        )
        # The core refuses a non-admin or a bad timezone before anything is created.
        await quick(
            interaction,
            guilds.configure(
                gid,
                actor,
                responder_role_id=responder_role.id,
                oncall_role_id=oncall_role.id if oncall_role else None,
                escalation_role_id=escalation_role.id if escalation_role else None,
                timezone=timezone,
            ),
            ephemeral=True,
        )
        assert interaction.guild is not None
        blocked = permissions.setup_blocked(interaction.guild, await guilds.get(gid))
        if blocked:
            await send(interaction, blocked, ephemeral=True)
            return
        await defer(interaction, ephemeral=True)
        made = await provisioning.provision(
            interaction.guild,
            await guilds.get(gid),
            category=incident_category,
            alerts=alerts_channel,
            room=operating_room,
        )
        config = await guilds.configure(
            gid,
            actor,
            alerts_channel_id=made.alerts.id,
            operating_room_id=made.room.id,
            incident_category_id=made.category.id,
        )
        done = f"Created {', '.join(made.created)}." if made.created else "Nothing new to create."
        status = rendering.status_text(config, provisioning.problems(interaction.guild, config))
        await send(interaction, f"✅ Opsroom is set up. {done}\n{status}", ephemeral=True)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show the configuration and what is missing."""
        assert interaction.guild is not None
        config = await services(interaction).guilds.get(guild_id(interaction))
        text = rendering.status_text(config, provisioning.problems(interaction.guild, config))
        await send(interaction, text, ephemeral=True)

    @app_commands.command(name="webhook")
    @app_commands.describe(
        source="The monitor that will call it",
        name="A name to tell webhooks apart (default: source)",
        every="heartbeat only: how often pings come, e.g. 5m",
        grace="heartbeat only: extra wait before a missed ping alerts (default 1m)",
    )
    @app_commands.choices(source=SOURCES)
    async def webhook(
        self,
        interaction: discord.Interaction,
        source: app_commands.Choice[str],
        name: app_commands.Range[str, 1, 100] | None = None,
        every: app_commands.Range[str, 1, 20] | None = None,
        grace: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        """Make a webhook URL for a monitor (or a heartbeat's); it is shown once."""
        schedule = schedule_option(every, grace)
        made, token = await services(interaction).webhooks.create(
            guild_id(interaction),
            AlertSource(source.value),
            name,
            member(interaction),
            heartbeat=schedule,
        )
        base = bot(interaction).public_url
        await send(interaction, webhook_created(made, token, base), ephemeral=True)

    @app_commands.command(name="webhooks")
    async def webhooks(self, interaction: discord.Interaction) -> None:
        """List this server's webhooks, revoked ones included."""
        gid = guild_id(interaction)
        found = await services(interaction).webhooks.list(gid)
        beats = await services(interaction).heartbeats.for_guild(gid)
        await send(interaction, webhook_list(found, beats), ephemeral=True)

    @app_commands.command(name="revoke")
    @app_commands.describe(id="The webhook's number, as /opsroom webhooks lists it")
    async def revoke(
        self, interaction: discord.Interaction, id: app_commands.Range[int, 1]
    ) -> None:
        """Revoke a webhook: its URL stops working at once."""
        revoked = await services(interaction).webhooks.revoke(
            guild_id(interaction), member(interaction), id
        )
        await send(
            interaction,
            f"🗑️ {webhook_label(revoked)} is revoked; its past alerts stay.",
            ephemeral=True,
        )


def webhook_label(webhook: Webhook) -> str:
    """`Webhook 3 (uptimerobot)`, or `Webhook 3 "prod" (uptimerobot)` when it has its own name."""
    name = limits.truncate(webhook.name, 100)
    named = f' "{name}"' if name != webhook.source.value else ""
    return f"Webhook {webhook.id}{named} ({webhook.source.value})"


def webhook_created(webhook: Webhook, token: str, public_url: str) -> str:
    """The new webhook's URL (the only time the token is shown), how to use it, and why it
    may not be reachable from a hosted monitor."""
    url = f"{public_url}/hooks/{webhook.source.value}/{token}"
    text = f"🔑 {webhook_label(webhook)} is ready. Its URL, shown **only this once**:\n"
    text += f"```\n{url}\n```\n"
    for warning in public_url_warnings(public_url):
        text += f"⚠️ {warning}\n"
    if webhook.source is AlertSource.HEARTBEAT:
        text += (
            "Ping it by GET, HEAD or POST (any body) on schedule; when a ping is late, "
            "an alert fires in #alerts and the next ping resolves it.\n"
        )
    if webhook.source is AlertSource.EVENTS:
        text += (
            f"PagerDuty Events v2 clients can instead post to `{public_url}/hooks/events` "
            "with the token as `routing_key` (PagerDuty's libraries: base URL "
            f"`{public_url}`).\n"
        )
    text += f"What to paste into the monitor: `{guide_for(webhook.source.value)}`.\n"
    return text + "Lost it? Revoke it with `/opsroom revoke` and make a new one."


def heartbeat_text(heartbeat: Heartbeat) -> str:
    """` · every 5m, grace 1m · last ping <t:…:R>` (or ` · missed` / ` · no ping yet`)."""
    text = f" · {schedule_text(heartbeat.every, heartbeat.grace)}"
    if heartbeat.last_ping_at is None:
        text += " · no ping yet"
    else:
        text += f" · last ping {rendering.ts(heartbeat.last_ping_at, 'R')}"
    return text + (" · ⚠️ missed" if heartbeat.missed_at else "")


def webhook_list(
    webhooks: list[Webhook], heartbeats: dict[int, Heartbeat] | None = None
) -> list[str]:
    """`/opsroom webhooks`: one line each, revoked ones marked (no tokens: only hashes exist)."""
    if not webhooks:
        return ["No webhooks yet: make one with `/opsroom webhook`."]
    lines = []
    for hook in webhooks:
        made = f"made {rendering.ts(hook.created_at, 'd')}"
        if hook.created_by:
            made += f" by {rendering.mention(hook.created_by)}"
        state = (
            f"🚫 revoked {rendering.ts(hook.revoked_at, 'd')}" if hook.revoked_at else "✅ active"
        )
        name = limits.truncate(hook.name, 100)
        beat = (heartbeats or {}).get(hook.id or 0)
        extra = heartbeat_text(beat) if beat else ""
        lines.append(f"`{hook.id}` **{name}** · {hook.source.value}{extra} · {made} · {state}")
    return limits.pack_lines(lines, header=f"**{rendering.count(len(webhooks), 'webhooks')}**")


async def setup(bot: commands.Bot) -> None:
    """Load the /opsroom commands."""
    await bot.add_cog(OpsroomCog())

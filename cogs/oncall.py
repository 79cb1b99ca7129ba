"""`/oncall …`: pagers beyond Discord (Apprise URLs), test pages, and who is on call."""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import limits, rendering
from bot.adapters.discord.interactions import guild_id, person, send, services
from bot.adapters.discord.interactions import member as acting
from bot.core.errors import ValidationError
from bot.core.model import Person
from bot.core.oncall import OnDuty
from bot.core.paging import Pager, PagerLevel
from bot.core.services.oncall import Who

MENTION = re.compile(r"<@!?(\d{15,22})>")

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
class OncallCog(commands.GroupCog, group_name="oncall", group_description="Paging and on-call"):
    """Visible to everyone: `who` is for anyone, `override` and `away` for responders, and the
    core refuses pagers, tests and the rotation to all but Manage Server (Discord's default
    permissions apply to a whole command group, so they cannot split it)."""

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

    @app_commands.command(name="rotation")
    @app_commands.describe(
        members="The members in turn order, as mentions: @alice @bob @carol",
        handoff="When shifts change, in the server's timezone, e.g. Mon 09:00",
        every="How long a shift lasts: 1w (default), 2w, 3d …",
    )
    async def rotation(
        self,
        interaction: discord.Interaction,
        members: app_commands.Range[str, 1, 1000],
        handoff: app_commands.Range[str, 1, 20],
        every: app_commands.Range[str, 1, 10] | None = None,
    ) -> None:
        """Set the on-call rotation: the first member is on call from now."""
        people = await _members(interaction, members)
        rotation = await services(interaction).oncall.set_rotation(
            guild_id(interaction), acting(interaction), people, handoff, every
        )
        order = ", ".join(rendering.mention(m) for m in rotation.members)
        await send(
            interaction,
            f"🔁 Rotation set: {order}, handing off every {rotation.every_days} days at "
            f"{rendering.ts(rotation.next_handoff_at, 'f')} (first handoff). The on-call role "
            "moves at each handoff, announced in #alerts.",
            ephemeral=True,
        )

    @app_commands.command(name="who")
    async def who(self, interaction: discord.Interaction) -> None:
        """Who is on call now, and who is next."""
        found = await services(interaction).oncall.who(guild_id(interaction))
        await send(interaction, who_text(found), ephemeral=True)

    @app_commands.command(name="override")
    @app_commands.describe(user="Who covers", until="Until when: 8h, 18:00, 2026-03-05 09:00")
    async def override(
        self,
        interaction: discord.Interaction,
        user: discord.Member,
        until: app_commands.Range[str, 1, 40],
    ) -> None:
        """Someone covers the on-call shift until then."""
        shift = await services(interaction).oncall.override(
            guild_id(interaction), acting(interaction), person(user), until
        )
        await send(
            interaction,
            f"🛟 {rendering.mention(shift.person)} is on call until "
            f"{rendering.ts(shift.ends_at, 'f')}.",
            ephemeral=True,
        )

    @app_commands.command(name="away")
    @app_commands.describe(
        until="Until when: 2h, 18:00, 2026-03-05 09:00",
        backup="Who takes your pages (default: the escalation role)",
    )
    async def away(
        self,
        interaction: discord.Interaction,
        until: app_commands.Range[str, 1, 40],
        backup: discord.Member | None = None,
    ) -> None:
        """Hand your pages to a backup until then; your incidents get a holding update."""
        shift, updates = await services(interaction).oncall.away(
            guild_id(interaction), acting(interaction), until, person(backup) if backup else None
        )
        cover = rendering.mention(shift.backup) if shift.backup else "the escalation role"
        extra = f" Holding update posted on {updates} incident(s) you command." if updates else ""
        await send(
            interaction,
            f"🌙 You are away until {rendering.ts(shift.ends_at, 'f')}; {cover} takes your "
            f"pages.{extra}",
            ephemeral=True,
        )


async def _members(interaction: discord.Interaction, text: str) -> list[Person]:
    """The members a text of mentions names, with the names this server shows."""
    ids = list(dict.fromkeys(int(m) for m in MENTION.findall(text)))
    if not ids:
        raise ValidationError("Name the members as mentions, e.g. @alice @bob.")
    guild = interaction.guild
    assert guild is not None
    people = []
    for member_id in ids:
        found = guild.get_member(member_id)
        if found is None:
            try:
                found = await guild.fetch_member(member_id)
            except discord.NotFound:
                raise ValidationError(f"<@{member_id}> is not a member of this server.") from None
        people.append(person(found))
    return people


def _duty_line(duty: OnDuty) -> str:
    who = rendering.mention(duty.person) if duty.person else "nobody"
    return f"On call now: {who} ({duty.reason})"


def who_text(found: Who) -> str:
    """`/oncall who`: now, next, and the overrides and aways ahead."""
    if found.rotation is None and not found.shifts:
        return "No rotation yet: set one with `/oncall rotation`."
    lines = [_duty_line(found.duty)]
    if found.rotation is not None:
        lines.append(
            f"Next: {rendering.mention(found.rotation.following)} at "
            f"{rendering.ts(found.rotation.next_handoff_at, 'f')}"
        )
    for shift in found.shifts:
        what = "covers" if shift.kind.value == "override" else "is away"
        backup = f" (backup {rendering.mention(shift.backup)})" if shift.backup else ""
        lines.append(
            f"• {rendering.mention(shift.person)} {what} until "
            f"{rendering.ts(shift.ends_at, 'f')}{backup}"
        )
    return "\n".join(lines)


async def setup(bot: commands.Bot) -> None:
    """Load the /oncall commands."""
    await bot.add_cog(OncallCog())

"""`/opsroom setup` on the Discord double with permissions withheld from the bot's role: one
reply names every missing permission and the unmentionable on-call role, nothing is made;
with the permissions back, setup creates the channels and reports nothing missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.discord import permissions
from tests.e2e.discord_double import DiscordDouble
from tests.e2e.discord_double.permissions import (
    MANAGE_CHANNELS,
    MANAGE_ROLES,
    MANAGE_THREADS,
    MENTION_EVERYONE,
    PIN_MESSAGES,
)
from tests.e2e.opsroom import Crew, OpsroomDatabase, reply_text

WITHHELD = MANAGE_CHANNELS | MANAGE_ROLES | PIN_MESSAGES | MANAGE_THREADS


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[OpsroomDatabase]:
    db = await OpsroomDatabase(tmp_path / "opsroom.db").open()
    try:
        yield db
    finally:
        await db.close()


async def test_setup_reports_every_missing_permission_at_once(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    double = discord_double
    (bot_role,) = [r for r in double.guild.roles.values() if r.managed]
    bot_role.permissions &= ~(WITHHELD | MENTION_EVERYONE)
    crew = Crew.join(double)
    oncall = double.world.add_role(double.guild, "On call")  # not mentionable
    async with double.running(database.bot()):
        refused = await crew.run(
            crew.alice, "general", "opsroom setup", responder_role=crew.responders,
            oncall_role=oncall,
        )  # fmt: skip
        text = reply_text(refused)
        assert refused.ephemeral and text.startswith("⚠️ Opsroom is not set up yet"), text
        named = [n.label for n in permissions.NEEDS if f"**{n.label}**" in text]
        assert named == ["Manage Channels", "Manage Roles", "Manage Threads", "Pin Messages"]
        assert f"<@&{oncall.id}> cannot be mentioned" in text
        assert len(refused.messages()) == 1  # one reply, not one per attempt
        assert not [c for c in double.world.channels.values() if c.name == "alerts"]
        assert not [r for r in double.requests if r.method == "POST" and "/channels" in r.path]

        bot_role.permissions |= WITHHELD
        double.world.on_change("GUILD_ROLE_UPDATE", {"guild_id": str(double.guild.id),
                               "role": bot_role.payload()}, double.guild.id)  # fmt: skip
        oncall.mentionable = True
        double.world.on_change("GUILD_ROLE_UPDATE", {"guild_id": str(double.guild.id),
                               "role": oncall.payload()}, double.guild.id)  # fmt: skip
        done = await crew.run(
            crew.alice, "general", "opsroom setup", responder_role=crew.responders,
            oncall_role=oncall,
        )  # fmt: skip
        assert "Everything is in place." in reply_text(done), reply_text(done)
        assert double.channel("alerts") and double.channel("operating-room")

"""`/opsroom setup` and `/opsroom status` report every missing permission and unmentionable
role in one reply; alerts stored before setup are posted once setup has made `#alerts`."""

from __future__ import annotations

import discord

from bot.adapters.discord import permissions
from tests.discord.conftest import World
from tests.discord.test_alert_relay import ingest, posts, signal


def bot_role(world: World):
    """The bot's managed integration role, as the backend holds it."""
    guild = world.env.backend.get_guild(world.guild.id)
    return next(r for r in guild.roles.values() if r.managed)


async def withhold(world: World, *flags: str) -> None:
    """Take permissions away from the bot's role, and let the bot hear of it."""
    role = bot_role(world)
    value = discord.Permissions(role.permissions)
    value.update(**dict.fromkeys(flags, False))
    world.env.backend.edit_role(world.guild.id, role.id, {"permissions": value.value})
    await world.env.settle()


async def test_setup_names_every_missing_permission_at_once_and_creates_nothing(world: World):
    """Four permissions withheld: one reply names all four; a second run after the fix works."""
    await withhold(world, "manage_channels", "manage_roles", "manage_threads", "pin_messages")
    result = await world.carol.slash(
        world.general, "opsroom setup", responder_role=world.responders
    )
    text = result.response.content
    assert result.ephemeral and text.startswith("⚠️ Opsroom is not set up yet")
    named = [need.label for need in permissions.NEEDS if f"**{need.label}**" in text]
    assert named == ["Manage Channels", "Manage Roles", "Manage Threads", "Pin Messages"]
    assert "alerts" not in world.guild.channels and "operating-room" not in world.guild.channels
    role = bot_role(world)
    restored = role.permissions | permissions.required().value
    world.env.backend.edit_role(world.guild.id, role.id, {"permissions": restored})
    await world.env.settle()
    again = await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    assert "Everything is in place." in again.response.content


async def test_status_names_what_a_channel_overwrite_takes_away(world: World):
    """An overwrite on #alerts denying the bot Embed Links and Attach Files shows in status."""
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    guild = world.env.bot.get_guild(world.guild.id)
    alerts = next(c for c in guild.text_channels if c.name == "alerts")
    await alerts.set_permissions(guild.me, embed_links=False, attach_files=False)
    await world.env.settle()
    text = (await world.carol.slash(world.general, "opsroom status")).response.content
    assert f"In <#{alerts.id}> I lack **Embed Links**, **Attach Files**" in text
    assert "Everything is in place." not in text


async def test_an_on_call_role_nobody_can_mention_is_reported(world: World):
    """Without Mention @everyone, an unmentionable on-call role would ping nobody: said so."""
    await withhold(world, "mention_everyone")
    quiet = world.guild.create_role("On call", mentionable=False)
    loud = world.guild.create_role("Leads", mentionable=True)
    result = await world.carol.slash(
        world.general,
        "opsroom setup",
        responder_role=world.responders,
        oncall_role=quiet,
        escalation_role=loud,
    )
    text = result.response.content
    assert f"The on-call role <@&{quiet.id}> cannot be mentioned" in text
    assert "escalation role" not in text.split("**Missing or wrong**")[1]


async def test_alerts_stored_before_setup_are_posted_once_setup_made_the_channel(world: World):
    """A webhook made before setup: its alert waits, then appears once in the new #alerts."""
    await ingest(world, signal("disk-db1"), signal("cpu-web1", title="CPU 99% on web1"))
    assert "alerts" not in world.guild.channels
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    await world.env.settle()
    shown = posts(world)
    assert sorted(m.embeds[0].title or "" for m in shown) == [
        "CPU 99% on web1",
        "Disk 97% full on db1",
    ]
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    await world.env.settle()
    assert len(posts(world)) == 2  # a second setup posts nothing again


async def test_without_manage_events_setup_works_and_says_what_is_skipped(world: World):
    """Manage Events is optional: setup still makes the channels, and names what it skips."""
    await withhold(world, "manage_events")
    result = await world.carol.slash(
        world.general, "opsroom setup", responder_role=world.responders
    )
    text = result.response.content
    assert not text.startswith("⚠️ Opsroom is not set up yet")
    assert "alerts" in world.guild.channels and "operating-room" in world.guild.channels
    assert "Optional: without **Manage Events** I cannot show maintenance windows" in text

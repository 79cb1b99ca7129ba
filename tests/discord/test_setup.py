"""`/opsroom setup` and `/opsroom status`, through the real command tree."""

from __future__ import annotations

import discord
import pytest
from simcord import BackendError, SetupError

from bot.adapters.discord import provisioning
from bot.adapters.discord.sync import tree_payload
from bot.core.errors import PermissionDeniedError
from tests.discord.conftest import World, acknowledge, first_answer

DENIED = (1 << 11) | (1 << 6) | (1 << 35) | (1 << 36) | (1 << 38)
BOT_ALLOWED = DENIED | (1 << 10) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 34)


def cached(world: World, name: str):
    """The bot's own view of a channel by name (what Discord told it over the gateway)."""
    guild = world.env.bot.get_guild(world.guild.id)
    return next(c for c in guild.channels if c.name == name)


async def config(world: World):
    return await world.env.bot.services.guilds.get(world.guild.id)


async def test_setup_on_an_empty_guild_creates_what_is_missing(world: World):
    """Category Incidents, #alerts and #operating-room are created and stored."""
    result = await world.carol.slash(
        world.general, "opsroom setup", responder_role=world.responders
    )
    assert result.ephemeral and first_answer(world.env) == 5  # deferred before making channels
    text = result.response.content
    assert "Created category Incidents, #alerts, #operating-room" in text
    assert "Everything is in place." in text
    stored = await config(world)
    assert stored.responder_role_id == world.responders.id
    assert stored.incident_category_id == world.channel("Incidents").id
    assert stored.alerts_channel_id == world.channel("alerts").id
    assert stored.operating_room_id == world.channel("operating-room").id
    assert isinstance(cached(world, "Incidents"), discord.CategoryChannel)


async def test_operating_room_overwrites_are_bit_exact(world: World):
    """@everyone is denied exactly the five posting bits; the bot is allowed those and five more."""
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    room = cached(world, "operating-room")
    guild = room.guild
    overwrites = {target.id: overwrite.pair() for target, overwrite in room.overwrites.items()}
    assert set(overwrites) == {guild.id, guild.me.id}
    everyone_allow, everyone_deny = overwrites[guild.id]
    bot_allow, bot_deny = overwrites[guild.me.id]
    assert (everyone_allow.value, everyone_deny.value) == (0, DENIED)
    assert (bot_allow.value, bot_deny.value) == (BOT_ALLOWED, 0)


async def test_operating_room_is_read_only_for_members(world: World):
    """A responder can read the operating room but not post there; the bot can."""
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    room = cached(world, "operating-room")
    alice = room.guild.get_member(world.alice.id) or await room.guild.fetch_member(world.alice.id)
    assert room.permissions_for(alice).read_messages
    assert not room.permissions_for(alice).send_messages
    assert room.permissions_for(room.guild.me).send_messages
    with pytest.raises(BackendError, match="50013"):
        await world.alice.send(world.channel("operating-room"), "can I post here?")


async def test_setup_again_adopts_and_duplicates_nothing(world: World):
    """A second run (new on-call role and timezone) keeps the same channels and ids."""
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    first = await config(world)
    oncall = world.guild.create_role("On call")
    result = await world.carol.slash(
        world.general,
        "opsroom setup",
        responder_role=world.responders,
        oncall_role=oncall,
        timezone="Europe/Berlin",
    )
    assert "Nothing new to create." in result.response.content
    second = await config(world)
    assert (second.alerts_channel_id, second.operating_room_id, second.incident_category_id) == (
        first.alerts_channel_id,
        first.operating_room_id,
        first.incident_category_id,
    )
    assert second.oncall_role_id == oncall.id and second.timezone == "Europe/Berlin"
    for name in ("Incidents", "alerts", "operating-room"):
        assert len(world.text_channels(name)) == 1, name


async def test_setup_adopts_existing_channels_by_name(world: World):
    """Channels already named like Opsroom's defaults are adopted and the room is locked down."""
    category = world.guild.create_category("Incidents")
    alerts = world.guild.create_text_channel("alerts")
    room = world.guild.create_text_channel(
        "operating-room",
        overwrites={world.responders: discord.PermissionOverwrite(send_messages=True)},
    )
    result = await world.carol.slash(
        world.general, "opsroom setup", responder_role=world.responders
    )
    assert "Nothing new to create." in result.response.content
    stored = await config(world)
    assert (stored.incident_category_id, stored.alerts_channel_id, stored.operating_room_id) == (
        category.id,
        alerts.id,
        room.id,
    )
    locked = cached(world, "operating-room")
    responders = locked.guild.get_role(world.responders.id)
    assert locked.overwrites_for(responders).send_messages is None  # the hole is closed
    assert locked.overwrites_for(locked.guild.default_role).pair()[1].value == DENIED


async def test_setup_uses_the_channels_given(world: World):
    """Options alerts_channel, operating_room, incident_category and escalation_role are used."""
    alerts = world.guild.create_text_channel("monitoring")
    room = world.guild.create_text_channel("war-room")
    category = world.guild.create_category("Outages")
    escalation = world.guild.create_role("Leads")
    await world.carol.slash(
        world.general,
        "opsroom setup",
        responder_role=world.responders,
        escalation_role=escalation,
        alerts_channel=alerts,
        operating_room=room,
        incident_category=category,
    )
    stored = await config(world)
    assert (stored.alerts_channel_id, stored.operating_room_id, stored.incident_category_id) == (
        alerts.id,
        room.id,
        category.id,
    )
    assert stored.escalation_role_id == escalation.id
    assert "operating-room" not in world.guild.channels
    war_room = cached(world, "war-room")
    assert war_room.overwrites_for(war_room.guild.default_role).pair()[1].value == DENIED


async def test_setup_refuses_a_bad_timezone_before_creating_anything(world: World):
    """An unknown timezone gets a one-line ephemeral refusal and no channels."""
    result = await world.carol.slash(
        world.general, "opsroom setup", responder_role=world.responders, timezone="Mars/Base"
    )
    assert result.ephemeral and first_answer(world.env) == 4  # refused before any deferral
    assert "Unknown timezone 'Mars/Base'" in result.response.content
    assert "alerts" not in world.guild.channels
    acknowledge(world.env)


async def test_timezone_autocomplete(world: World):
    """Typing part of a zone offers IANA names, those starting with it first."""
    choices = await world.carol.autocomplete(
        world.general, "opsroom setup", "timezone", "europe/ber", responder_role=world.responders
    )
    assert [c["value"] for c in choices] == ["Europe/Berlin"]
    many = await world.carol.autocomplete(
        world.general, "opsroom setup", "timezone", "", responder_role=world.responders
    )
    assert len(many) == 25


async def test_setup_is_for_manage_server_only(world: World):
    """Discord hides /opsroom from members without Manage Server (default permissions)."""
    payload = {c["name"]: c for c in tree_payload(world.env.bot.tree)}
    assert int(payload["opsroom"]["default_member_permissions"]) == 1 << 5
    with pytest.raises(SetupError):
        await world.bob.slash(world.general, "opsroom setup", responder_role=world.responders)


async def test_core_refuses_setup_when_an_admin_opened_the_command_to_others(world: World):
    """Even if a server lets bob use /opsroom, the core refuses him: one ephemeral line."""
    commands = await world.env.bot.tree.fetch_commands()
    opsroom = next(c for c in commands if c.name == "opsroom")
    world.guild.set_command_permissions(opsroom, {world.bob: True})
    result = await world.bob.slash(world.general, "opsroom setup", responder_role=world.responders)
    assert result.ephemeral
    assert result.response.content == "Only members with Manage Server can configure Opsroom."
    assert "alerts" not in world.guild.channels
    (error,) = acknowledge(world.env)
    assert isinstance(error.original, PermissionDeniedError)


async def test_status_before_and_after_setup(world: World):
    """Status says setup is needed, then shows every setting and reports problems."""
    before = await world.carol.slash(world.general, "opsroom status")
    assert before.ephemeral and "not set up here yet" in before.response.content
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    after = await world.carol.slash(world.general, "opsroom status")
    text = after.response.content
    assert f"Responder role: <@&{world.responders.id}>" in text
    assert f"Operating room: <#{world.channel('operating-room').id}>" in text
    assert "Timezone: UTC" in text and "Everything is in place." in text


async def test_status_reports_a_writable_operating_room(world: World):
    """If someone reopens the room to @everyone, status says so and setup fixes it."""
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    room = cached(world, "operating-room")
    problems = provisioning.problems(room.guild, await config(world))
    assert problems == []
    await room.set_permissions(room.guild.default_role, overwrite=None)
    text = (await world.carol.slash(world.general, "opsroom status")).response.content
    assert "the operating room is not read-only for @everyone" in text
    await world.carol.slash(world.general, "opsroom setup", responder_role=world.responders)
    text = (await world.carol.slash(world.general, "opsroom status")).response.content
    assert "Everything is in place." in text

"""`/incident …`: rooms, cards kept current in place, the thread, locking."""

from __future__ import annotations

import discord
import pytest
from simcord import BackendError, ChannelHandle

from bot.core.errors import NotFoundError
from tests.discord.conftest import World, acknowledge, close_anyway, declare, first_answer

T_DECLARED = 1772366400  # 2026-03-01 12:00 UTC, the core's clock


def cards(channel: ChannelHandle) -> list[discord.Message]:
    """The bot's non-ephemeral messages with an embed: incident cards."""
    return [m for m in channel.history() if m.author.bot and m.embeds and not m.flags.ephemeral]


def fields(message: discord.Message) -> dict[str, str]:
    return {f.name: f.value for f in message.embeds[0].fields}


def thread_of(world: World) -> ChannelHandle:
    (thread,) = world.channel("operating-room").threads
    return thread


def thread_lines(thread: ChannelHandle) -> list[str]:
    """What the bot posted in an operating-room thread, in order."""
    return [m.content for m in thread.history() if m.author.bot and m.content]


async def test_declare_makes_channel_card_room_card_and_thread(ready: World):
    """The working channel under Incidents with the pinned card, the room card, its thread."""
    channel = await declare(ready, summary="5xx on every request")
    result_text = ready.general.last_message.content
    assert channel.name == "inc-1-database-down"
    assert ready.env.bot.get_channel(channel.id).category.name == "Incidents"
    assert f"<#{channel.id}>" in result_text and "#1 Database down" in result_text
    (pinned,) = channel.pinned_messages()
    assert pinned.embeds[0].title == "#1 Database down"
    assert pinned.embeds[0].description == "5xx on every request"
    (room_card,) = cards(ready.channel("operating-room"))
    assert room_card.embeds[0].to_dict() == pinned.embeds[0].to_dict()
    thread = thread_of(ready)
    assert thread.id == room_card.id and thread.name == "#1 Database down"
    (line,) = thread_lines(thread)
    assert f"<t:{T_DECLARED}:T> 🚨 **alice**: Declared sev1 (critical) by alice" in line


async def test_declare_answers_publicly_after_deferring(ready: World):
    """The core call comes first; then a public "thinking…"; then the announcement."""
    result = await ready.alice.slash(
        ready.general, "incident declare", title="Cache cold", severity="sev3"
    )
    assert first_answer(ready.env) == 5
    assert not result.ephemeral
    assert result.response.content.startswith("🚨 **#1 Cache cold** declared, 🟡 sev3 (minor)")


async def test_declare_options_commander_summary_and_started(ready: World, clock):
    """commander, summary and a backdated start are stored and shown."""
    channel = await declare(
        ready, "Login broken", severity="sev2", commander=ready.bob, summary="SSO", started="-30m"
    )
    card = channel.pinned_messages()[0]
    started = T_DECLARED - 30 * 60
    assert fields(card)["Commander"] == f"<@{ready.bob.id}>"
    assert fields(card)["Started"] == f"<t:{started}:f> (<t:{started}:R>)"
    assert fields(card)["Severity"] == "🟠 sev2 (major)"
    lines = thread_lines(thread_of(ready))
    assert "commander bob" in lines[0] and "Impact began" in lines[1]


async def test_declare_twice_makes_two_of_everything_and_no_duplicates(ready: World):
    """Cog and notifier both ensure the rooms; the lock makes each exactly once."""
    await declare(ready, "First")
    await declare(ready, "Second")
    guild = ready.env.bot.get_guild(ready.guild.id)
    names = sorted(c.name for c in guild.text_channels if c.name.startswith("inc-"))
    assert names == ["inc-1-first", "inc-2-second"]
    assert len(cards(ready.channel("operating-room"))) == 2
    assert len(ready.channel("operating-room").threads) == 2


async def test_card_is_edited_in_place_never_reposted(ready: World, clock):
    """Every change edits both cards; the room and the channel keep one card each."""
    channel = await declare(ready)
    room = ready.channel("operating-room")
    before = len(room.history())
    (room_card,) = cards(room)
    clock.advance(minutes=5)
    await ready.alice.slash(channel, "incident severity", level="sev2")
    await ready.alice.slash(channel, "incident status", state="identified")
    await ready.alice.slash(channel, "incident update", text="Failing over to the replica")
    await ready.alice.slash(channel, "incident commander", user=ready.carol)
    assert len(room.history()) == before
    (after,) = cards(room)
    assert after.id == room_card.id and after.edited_at is not None
    shown = fields(after)
    assert shown["Severity"] == "🟠 sev2 (major)" and shown["Status"] == "identified"
    assert shown["Latest update"].startswith("Failing over to the replica")
    assert shown["Commander"] == f"<@{ready.carol.id}>"
    assert fields(channel.pinned_messages()[0]) == shown
    assert len(cards(channel)) == 1


async def test_thread_receives_every_change_in_order(ready: World):
    """Commander, roles, severity, status, update and resolve all reach the thread in order."""
    channel = await declare(ready)
    steps = [
        ("incident commander", {"user": ready.carol}),
        ("incident role", {"user": ready.bob, "role": "scribe"}),
        ("incident unrole", {"user": ready.bob, "role": "scribe"}),
        ("incident severity", {"level": "sev3"}),
        ("incident status", {"state": "monitoring", "note": "error rate falling"}),
        ("incident update", {"text": "Customers should see recovery"}),
        ("incident resolve", {"note": "replica promoted"}),
    ]
    for name, options in steps:
        result = await ready.carol.slash(channel, name, **options)
        assert result.acknowledged and not result.ephemeral, (name, result)
    lines = thread_lines(thread_of(ready))
    expected = [
        "Declared",
        "Command handed over from alice to carol",
        "bob is now scribe",
        "bob is no longer scribe",
        "Severity sev1 → sev3 (minor)",
        "Status investigating → monitoring: error rate falling",
        "Customers should see recovery",
        "Status monitoring → resolved: replica promoted",
    ]
    assert len(lines) == len(expected)
    for line, text in zip(lines, expected, strict=True):
        assert text in line


async def test_roles_show_on_the_card(ready: World):
    """Scribe, comms and ops holders appear on the card; unrole takes them off."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "incident role", user=ready.bob, role="comms")
    await ready.alice.slash(channel, "incident role", user=ready.carol, role="ops")
    card = fields(channel.pinned_messages()[0])
    assert card["Comms"] == f"<@{ready.bob.id}>" and card["Ops"] == f"<@{ready.carol.id}>"
    await ready.alice.slash(channel, "incident unrole", user=ready.bob, role="comms")
    assert "Comms" not in fields(channel.pinned_messages()[0])


async def test_close_makes_the_working_channel_read_only(ready: World):
    """After close nobody but the bot can post in #inc-N; the card turns grey."""
    channel = await declare(ready)
    await ready.alice.send(channel, "still writable")
    await ready.alice.slash(channel, "incident resolve")
    result = await ready.alice.slash(channel, "incident close")
    assert first_answer(ready.env) == 5
    assert f"<#{channel.id}> is now read-only" in result.response.content
    with pytest.raises(BackendError, match="50013"):
        await ready.alice.send(channel, "too late")
    cached = ready.env.bot.get_channel(channel.id)
    assert not cached.permissions_for(cached.guild.default_role).send_messages
    assert cached.permissions_for(cached.guild.me).send_messages
    assert channel.pinned_messages()[0].embeds[0].colour.value == 0x95A5A6


async def test_reopening_unlocks_the_working_channel(ready: World):
    """Moving a closed incident back to investigating lets responders talk again."""
    channel = await declare(ready)
    await close_anyway(ready, channel)
    await ready.alice.slash(channel, "incident status", state="investigating", note="it is back")
    await ready.alice.send(channel, "we are back in here")
    assert channel.last_message.content == "we are back in here"


async def test_incident_option_and_channel_default(ready: World):
    """Commands default to the channel's incident; elsewhere `incident` names it."""
    await declare(ready, "One")
    second = await declare(ready, "Two")
    await ready.alice.slash(ready.general, "incident severity", level="sev4", incident=1)
    await ready.alice.slash(second, "incident severity", level="sev2")
    incidents = {i.number: i for i in await ready.env.bot.services.incidents.list(ready.guild.id)}
    assert incidents[1].severity.value == "sev4" and incidents[2].severity.value == "sev2"


async def test_no_incident_here_is_a_one_line_refusal(ready: World):
    """In #general without the option the user is told how to name an incident."""
    result = await ready.alice.slash(ready.general, "incident severity", level="sev2")
    assert result.ephemeral
    assert result.response.content.startswith("Which incident?")
    (error,) = acknowledge(ready.env)
    assert isinstance(error.original, NotFoundError)


async def test_commands_in_the_operating_room_thread_answer_quietly(ready: World):
    """Used inside the read-only thread, a change is confirmed ephemerally (thread stays clean)."""
    await declare(ready)
    thread = thread_of(ready)
    result = await ready.alice.slash(thread, "incident severity", level="sev2")
    assert result.ephemeral and "sev2" in result.response.content


async def test_show_from_channel_thread_and_elsewhere(ready: World):
    """The card, ephemerally, for the channel's incident, the thread's, or a numbered one."""
    channel = await declare(ready)
    for where, options in ((channel, {}), (thread_of(ready), {}), (ready.general, {"incident": 1})):
        result = await ready.bob.slash(where, "incident show", **options)
        assert result.ephemeral
        assert result.response.embeds[0].title == "#1 Database down"
        assert f"<#{channel.id}>" in result.response.content


async def test_list_open_and_by_status(ready: World):
    """list shows open incidents; `status` picks one status instead."""
    await declare(ready, "Open one")
    closed = await declare(ready, "Closed one")
    await close_anyway(ready, closed)
    result = await ready.bob.slash(ready.general, "incident list")
    assert "**1 open incident**" in result.response.content
    assert "#1 Open one" in result.response.content and "Closed one" not in result.response.content
    result = await ready.bob.slash(ready.general, "incident list", status="closed")
    assert "#2 Closed one" in result.response.content and "Open one" not in result.response.content


async def test_incident_autocomplete_offers_open_incidents(ready: World):
    """Choices are `#N title` with the number as value, open ones only, filtered by typing."""
    await declare(ready, "Database down")
    await declare(ready, "Cache cold")
    closed = await declare(ready, "Old thing")
    await close_anyway(ready, closed)
    choices = await ready.alice.autocomplete(
        ready.general, "incident severity", "incident", "", level="sev2"
    )
    assert choices == [
        {"name": "#2 Cache cold", "value": 2},
        {"name": "#1 Database down", "value": 1},
    ]
    typed = await ready.alice.autocomplete(ready.general, "incident show", "incident", "cache")
    assert [c["value"] for c in typed] == [2]
    by_number = await ready.alice.autocomplete(ready.general, "incident show", "incident", "#1")
    assert [c["value"] for c in by_number] == [1]


async def test_update_text_too_long_for_a_card_field_is_truncated(ready: World, clock):
    """A 4000-character update fits the card (1024 per field) and is split in the thread."""
    channel = await declare(ready)
    text = "x" * 3000 + " " + "y" * 999
    clock.advance(minutes=1)
    await ready.alice.slash(channel, "incident update", text=text)
    shown = fields(channel.pinned_messages()[0])["Latest update"]
    assert len(shown) <= 1024 and "…" in shown
    declared, *posts = thread_lines(thread_of(ready))
    assert len(posts) == 3 and all(len(p) <= 2000 for p in posts)
    assert posts[0].startswith("`2`") and posts[-1].endswith("y" * 999)


async def test_declare_before_setup_by_an_admin_makes_a_channel_only(world: World):
    """Without setup (no category, no operating room) an admin still gets a working channel."""
    result = await world.carol.slash(
        world.general, "incident declare", title="Day one", severity="sev2"
    )
    channel = world.channel("inc-1-day-one")
    assert f"<#{channel.id}>" in result.response.content
    assert world.env.bot.get_channel(channel.id).category is None
    assert channel.pinned_messages()[0].embeds[0].title == "#1 Day one"


async def test_closing_an_unresolved_incident_asks_first(ready: World):
    """Investigating: close asks privately and changes nothing; "Close anyway" closes it."""
    channel = await declare(ready)
    asked = await ready.alice.slash(channel, "incident close")
    assert asked.ephemeral
    assert asked.response.content.startswith("⚠️ **#1 Database down** is still investigating")
    (found,) = await ready.env.bot.services.incidents.list(ready.guild.id)
    assert found.status.value == "investigating"
    done = await ready.alice.click(asked.response, label="Close anyway")
    assert f"<#{channel.id}> is now read-only" in done.response.content
    (found,) = await ready.env.bot.services.incidents.list(ready.guild.id, None)
    assert found.status.value == "closed"


async def test_a_watcher_is_refused_before_being_asked(ready: World):
    channel = await declare(ready)
    result = await ready.bob.slash(channel, "incident close")
    assert result.ephemeral and "Close it anyway?" not in result.response.content
    acknowledge(ready.env)


async def test_an_update_is_confirmed_with_its_text(ready: World):
    channel = await declare(ready)
    result = await ready.alice.slash(channel, "incident update", text="Failing over to db2")
    assert (
        result.response.content == "📣 Update on **#1 Database down** posted: Failing over to db2"
    )

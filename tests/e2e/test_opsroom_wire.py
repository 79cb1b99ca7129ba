"""The real Opsroom bot (and the real `opsroom run` process) against the Discord double.

What only the transport shows: the startup calls and when commands are synced, a whole
incident as Discord sees it, gateway reconnects and drops in the middle of a burst, rate
limits, SIGTERM, kill -9 and a rejected token.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.core.model import TimelineEntry
from tests.e2e.discord_double import MESSAGE_ROUTE, DiscordDouble, InteractionRecord
from tests.e2e.discord_double import rest as double_rest
from tests.e2e.discord_double.wire import RequestRecord
from tests.e2e.opsroom import (
    GLOBAL_SYNC,
    GUILD_SYNC,
    POSTING,
    READING,
    ROOM_BOT_ALLOW,
    ROOM_DENY,
    SEND_MESSAGES,
    Crew,
    OpsroomDatabase,
    OpsroomProcess,
    assert_thread_is_the_timeline,
    bot_posts,
    reply_text,
    room,
    the_thread,
    wait_for_entries,
)

LOGIN = ["GET /users/@me", "GET /oauth2/applications/@me"]
ADDED = re.compile(r"Entry (\d+) added")
REFUSAL = "Only members with the <@&{role}> role or Manage Server can change incidents"
FAST = pytest.mark.discord_double(message_limit=(5, 1.0))  # Discord's 5 per 5 s, sped up


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[OpsroomDatabase]:
    """A migrated SQLite file, with services wired as `opsroom run` wires them."""
    db = await OpsroomDatabase(tmp_path / "opsroom.db").open()
    try:
        yield db
    finally:
        await db.close()


def extra_command() -> app_commands.Command:
    """A command that is not part of Opsroom: adding it changes the tree."""

    @app_commands.command(name="ping", description="Answer pong")
    async def ping(interaction: discord.Interaction) -> None:
        """Answer pong."""
        await interaction.response.send_message("pong", ephemeral=True)

    return ping


def routes_since(double: DiscordDouble, start: int) -> list[str]:
    """The routes the client called since request number `start`."""
    return [r.route or r.path for r in double.requests[start:]]


def thread_posts(double: DiscordDouble, thread_id: int) -> list[RequestRecord]:
    """Every message-creation request the bot made in the thread, 429s included."""
    return [
        r for r in double.requests_to(MESSAGE_ROUTE) if r.params["channel_id"] == str(thread_id)
    ]


async def burst(crew: Crew, channel: object, texts: list[str]) -> list[InteractionRecord]:
    """carol adds every text with /timeline add, all dispatched before any is answered."""
    return [
        await crew.run(crew.carol, channel, "timeline add", text=text, wait=False) for text in texts
    ]


async def answered(double: DiscordDouble, records: list[InteractionRecord]) -> None:
    """Each /timeline add was acknowledged exactly once, in time, with its entry number."""
    for record in records:
        await double.wait_answered(record, within=15.0)
        assert ADDED.search(reply_text(record)) and record.ephemeral, reply_text(record)
        assert not record.refused  # acknowledged once, in time


# -- 1. startup and command sync ----------------------------------------------------------


async def test_startup_syncs_once_and_again_only_when_the_tree_changes(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """Login, then one global sync; a restart does not sync; a new command or dev guild does."""
    double = discord_double
    async with double.running(database.bot()):
        pass
    assert routes_since(double, 0) == [*LOGIN, GLOBAL_SYNC]
    names = {c["name"] for c in double.command_syncs[0]["commands"]}
    assert names == {
        "opsroom",
        "incident",
        "timeline",
        "action",
        "postmortem",
        "statuspage",
        "maintenance",
        "watch",
        "Add to timeline",
    }
    assert double.command_syncs[0]["guild_id"] is None

    mark = len(double.requests)
    async with double.running(database.bot()):
        pass
    assert routes_since(double, mark) == LOGIN  # same tree, same database: no sync
    assert len(double.command_syncs) == 1

    mark = len(double.requests)
    async with double.running(database.bot(extra=extra_command())):
        pass
    assert routes_since(double, mark) == [*LOGIN, GLOBAL_SYNC]
    assert "ping" in {c["name"] for c in double.command_syncs[1]["commands"]}
    mark = len(double.requests)
    async with double.running(database.bot(extra=extra_command())):
        pass
    assert routes_since(double, mark) == LOGIN  # the changed tree was stored

    guild = double.guild.id
    mark = len(double.requests)
    async with double.running(database.bot(dev_guild_id=guild)):
        pass
    assert routes_since(double, mark) == [*LOGIN, GUILD_SYNC]
    assert double.command_syncs[2]["guild_id"] == guild
    mark = len(double.requests)
    async with double.running(database.bot(dev_guild_id=guild)):
        pass
    assert routes_since(double, mark) == LOGIN
    assert len(double.command_syncs) == 3
    assert len(double.gateway.identifies) == 6


# -- 2. a whole incident ------------------------------------------------------------------


def mutating(crew: Crew) -> list[tuple[str, str, dict]]:
    """Every changing slash command, with options that would succeed for a responder."""
    return [
        ("incident declare", "general", {"title": "Sneaky", "severity": "sev4"}),
        ("incident commander", "inc", {"user": crew.bob}),
        ("incident role", "inc", {"user": crew.bob, "role": "ops"}),
        ("incident unrole", "inc", {"user": crew.carol, "role": "ops"}),
        ("incident severity", "inc", {"level": "sev4"}),
        ("incident status", "inc", {"state": "identified"}),
        ("incident update", "inc", {"text": "all good"}),
        ("incident resolve", "inc", {}),
        ("incident close", "inc", {}),
        ("timeline add", "inc", {"text": "I was here"}),
        ("timeline edit", "inc", {"id": 1, "text": "rewritten"}),
        ("timeline delete", "inc", {"id": 1}),
        ("action add", "inc", {"text": "something"}),
        ("action done", "inc", {"id": 1}),
    ]


def card_fields(message) -> dict[str, str]:
    """An incident card's embed fields, name → value."""
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


@FAST
async def test_a_whole_incident_from_declare_to_close(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """Setup, declare, 20 entries, update, status, close: rooms right, watcher refused."""
    double, guild = discord_double, discord_double.guild
    crew = Crew.join(double)
    bot_id = double.world.bot.id
    async with double.running(database.bot()):
        await crew.setup()
        category = double.channel("Incidents")
        operating = room(double)
        assert category.type == 4 and double.channel("alerts").type == 0
        assert set(operating.overwrites) == {guild.id, bot_id}
        everyone, mine = operating.overwrites[guild.id], operating.overwrites[bot_id]
        assert (everyone.type, everyone.allow, everyone.deny) == (0, 0, ROOM_DENY)
        assert (mine.type, mine.allow, mine.deny) == (1, ROOM_BOT_ALLOW, 0)

        working = await crew.declare()
        assert working.name == "inc-1-database-down" and working.parent_id == category.id
        (card,) = [m for m in bot_posts(double, working) if m.embeds]
        assert card.pinned and card.embeds[0]["title"] == "#1 Database down"
        (room_card,) = bot_posts(double, operating)
        thread = the_thread(double)
        assert thread.id == room_card.id and thread.name == "#1 Database down"

        adds = await burst(crew, working, [f"step {n}: checked replica {n}" for n in range(20)])
        await answered(double, adds)
        await crew.run(crew.carol, working, "incident role", user=crew.carol, role="ops")
        await crew.run(crew.carol, working, "action add", text="Alert on replica lag")
        update = await crew.run(
            crew.carol, working, "incident update", text="Failing over to the replica"
        )
        status = await crew.run(
            crew.carol, working, "incident status", state="monitoring", note="errors falling"
        )
        assert not update.ephemeral and "Update on **#1 Database down** posted" in reply_text(
            update
        )
        assert "now monitoring" in reply_text(status)

        # bob, without the responder role, is refused every change in one ephemeral line.
        stored = len(await database.entries(guild.id))
        said = double.post_message(working, crew.carol, "cpu at 100% on db-2")
        refusal = REFUSAL.format(role=crew.responders.id)
        refused = [
            await crew.run(crew.bob, "general" if where == "general" else working, name, **opts)
            for name, where, opts in mutating(crew)
        ]
        refused.append(
            await double.message_command(guild, working, crew.bob, "Add to timeline", said)
        )
        for record in refused:
            text = reply_text(record)
            assert record.ephemeral and text.startswith(refusal) and "\n" not in text, text
        assert len(await database.entries(guild.id)) == stored
        (incident,) = await database.services.incidents.list(guild.id)
        assert (incident.status.value, incident.severity.value) == ("monitoring", "sev1")
        assert len(bot_posts(double, "general")) == 1  # only the declaration: nothing new

        await crew.run(crew.carol, working, "incident resolve")  # else close asks first
        closed = await crew.run(crew.carol, working, "incident close")
        assert f"<#{working.id}> is now read-only" in reply_text(closed)
        entries = await database.entries(guild.id)
        await wait_for_entries(double, thread, len(entries))
        await double.wait_until(
            lambda: card_fields(double.world.messages[room_card.id])["Status"] == "closed",
            5.0,
            "the room card to show the close",
        )

        # bob can still read everything.
        reads = [
            await crew.run(crew.bob, working, "incident show"),
            await crew.run(crew.bob, working, "timeline show"),
            await crew.run(crew.bob, working, "action list"),
            await crew.run(crew.bob, "general", "incident list", status="closed"),
        ]
        assert reads[0].data["embeds"][0]["title"] == "#1 Database down"
        assert "step 19: checked replica 19" in reply_text(reads[1])
        assert "Alert on replica lag" in reply_text(reads[2])
        assert "#1 Database down" in reply_text(reads[3])
        assert not any(reply_text(r).startswith("Only members") for r in reads)

    # Every entry reached the thread once, in timeline order.
    kinds = [e.kind.value for e in entries]
    assert kinds == ["declared", *["note"] * 20, "role", "update", "status", "status", "status"]
    assert_thread_is_the_timeline(double, thread, entries)
    # The cards were edited in place, never re-posted.
    assert bot_posts(double, operating) == [room_card]
    assert [m for m in bot_posts(double, working) if m.embeds] == [card]
    for message in (room_card, card):
        shown = card_fields(double.world.messages[message.id])
        assert shown["Status"] == "closed" and shown["Latest update"].startswith("Failing over")
        assert message.edits and not message.deleted
    assert double.world.messages[card.id].pinned
    # The working channel is read-only after close; the room always was; bob reads all.
    assert working.overwrites[guild.id].deny == ROOM_DENY
    for user in (crew.bob, crew.carol):
        for channel in (working, operating, thread):
            perms = crew.permissions(user, channel)
            assert perms & READING == READING and not perms & POSTING, (user, channel.name)
    assert crew.permissions(double.world.bot, working) & SEND_MESSAGES
    # Nobody was pinged, nothing provoked a 429, every route was one Discord has.
    assert not any(
        m.pinged_users or m.pinged_roles or m.pinged_everyone
        for m in double.world.messages.values()
    )
    assert double.limiter.provoked_429s == 0 and double.limiter.injected_429s == 0
    assert double.unknown_routes == []


# -- 3. gateway reconnect and drop mid-burst ----------------------------------------------


async def _break_mid_burst(double: DiscordDouble, database: OpsroomDatabase, breaker: str) -> None:
    """10 entries, break the gateway while they are posted, 10 more into the gap."""
    crew = Crew.join(double)
    async with double.running(database.bot()):
        await crew.setup()
        working = await crew.declare()
        thread = the_thread(double)
        before = await burst(crew, working, [f"before {n}" for n in range(10)])
        await wait_for_entries(double, thread, 4)  # posting is under way
        if breaker == "reconnect":
            await double.gateway.send_reconnect()
        else:
            await double.gateway.drop()
        after = await burst(crew, working, [f"after {n}" for n in range(10)])  # into the gap
        await double.wait_until(
            lambda: any(r.accepted for r in double.gateway.resumes), 10.0, "a RESUME"
        )
        await answered(double, before + after)
        entries = await database.entries(double.guild.id)
        await wait_for_entries(double, thread, len(entries))
        assert len(entries) == 21
        assert_thread_is_the_timeline(double, thread, entries)
    (resume,) = double.gateway.resumes
    assert resume.accepted and resume.path == "/gateway-resume"
    assert len(double.gateway.identifies) == 1  # resumed, never re-identified
    replayed = [event for _, event in resume.replayed]
    assert replayed.count("INTERACTION_CREATE") >= 1  # some commands really came via RESUME
    assert double.limiter.provoked_429s == 0


@FAST
async def test_reconnect_op7_mid_burst_loses_and_repeats_nothing(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """After op 7 and RESUME the thread has every entry exactly once, in order."""
    await _break_mid_burst(discord_double, database, "reconnect")


@FAST
async def test_dropped_gateway_mid_burst_loses_and_repeats_nothing(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """After a TCP abort and RESUME the thread has every entry exactly once, in order."""
    await _break_mid_burst(discord_double, database, "drop")


# -- 4. rate limits -----------------------------------------------------------------------


@FAST
async def test_thirty_entries_respect_the_message_limit_and_a_429_is_retried(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """30 entries at 5 per second provoke no 429; an injected 429 is waited out, not lost."""
    double = discord_double
    crew = Crew.join(double)
    async with double.running(database.bot()):
        await crew.setup()
        working = await crew.declare()
        thread = the_thread(double)
        await answered(double, await burst(crew, working, [f"line {n}" for n in range(30)]))
        await wait_for_entries(double, thread, 31, within=30.0)
        posts = thread_posts(double, thread.id)
        assert len(posts) == 31 and {r.status for r in posts} == {200}
        assert "0" in {r.response_headers["X-RateLimit-Remaining"] for r in posts}  # limit hit
        assert double.limiter.provoked_429s == 0

        double.limiter.inject(MESSAGE_ROUTE, status=429, retry_after=0.3)
        await answered(double, await burst(crew, working, ["after the 429"]))
        await wait_for_entries(double, thread, 32)
        entries = await database.entries(double.guild.id)
        assert_thread_is_the_timeline(double, thread, entries)
    last = [r for r in thread_posts(double, thread.id) if "after the 429" in r.json["content"]]
    assert [r.status for r in last] == [429, 200]
    assert last[0].response_headers["Via"] and last[0].response["retry_after"] == 0.3
    assert double.limiter.injected_429s == 1 and double.limiter.provoked_429s == 0


# -- 5. the real process ------------------------------------------------------------------


class CrashOnPost:
    """Stands in front of the double's REST answers: after the `nth` thread post has been
    stored by Discord, kill -9 the bot before it can read the answer (so the event is posted
    but not marked done: only the nonce can prevent a duplicate after the restart)."""

    def __init__(self, process: OpsroomProcess, thread_id: int, nth: int) -> None:
        self.process, self.thread_id, self.nth = process, str(thread_id), nth
        self.seen = 0
        self.fired: RequestRecord | None = None
        self.original = double_rest._answer

    async def __call__(self, double: DiscordDouble, record: RequestRecord):
        response = await self.original(double, record)
        thread_post = (
            record.route == MESSAGE_ROUTE
            and record.params.get("channel_id") == self.thread_id
            and record.status == 200
        )
        if self.fired is None and thread_post:
            self.seen += 1
            if self.seen == self.nth:
                self.process.kill()
                await self.process.wait()
                self.fired = record
        return response


async def stored_entries(path: Path, guild_id: int) -> list[TimelineEntry]:
    """The timeline as the (stopped) process left it in its database."""
    database = await OpsroomDatabase(path).open()
    try:
        return await database.entries(guild_id)
    finally:
        await database.close()


@FAST
async def test_the_real_process_stops_restarts_and_survives_kill_9(
    discord_double: DiscordDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """opsroom run: ready, declare, SIGTERM exits 0, no re-sync, kill -9 loses no entry."""
    double = discord_double
    crew = Crew.join(double)
    path = tmp_path / "opsroom.db"
    process = OpsroomProcess(double, tmp_path, path)
    try:
        await process.start()
        await process.wait_ready()
        assert [s["guild_id"] for s in double.command_syncs] == [None]
        await crew.setup()
        working = await crew.declare()
        assert working.name == "inc-1-database-down"
        thread = the_thread(double)

        # SIGTERM while entries are still being posted: a clean exit, the rest kept.
        await burst(crew, working, [f"before stop {n}" for n in range(10)])
        await wait_for_entries(double, thread, 7)  # the 7th line waited for the limit
        assert await process.terminate() == 0
        assert "Traceback" not in process.stderr, process.stderr
        entries = await stored_entries(path, double.guild.id)
        assert len(entries) > len(bot_posts(double, thread))  # some were still to post

        await process.start()
        await process.wait_ready()
        assert len(double.command_syncs) == 1  # unchanged tree, same database: no sync
        assert len(double.gateway.identifies) == 2
        await wait_for_entries(double, thread, len(entries))
        assert_thread_is_the_timeline(double, thread, entries)

        # kill -9 in the middle of a burst, right after Discord stored a thread post.
        crash = CrashOnPost(process, thread.id, nth=6)  # the 6th waits for the limit
        monkeypatch.setattr(double_rest, "_answer", crash)
        adds = await burst(crew, working, [f"burst {n}" for n in range(20)])
        await double.wait_until(lambda: crash.fired is not None, 20.0, "the kill -9")
        assert process.process.returncode == -9
        monkeypatch.setattr(double_rest, "_answer", crash.original)
        entries = await stored_entries(path, double.guild.id)
        told = [ADDED.search(reply_text(r)) for r in adds]
        acknowledged = {int(match.group(1)) for match in told if match}
        assert acknowledged and acknowledged <= {e.seq for e in entries}  # "added" means stored
        assert len(entries) > len(bot_posts(double, thread))  # committed, not yet posted

        await process.start()
        await process.wait_ready()
        await wait_for_entries(double, thread, len(entries), within=20.0)
        assert_thread_is_the_timeline(double, thread, entries)
        nonce = crash.fired.json["nonce"]
        again = [r for r in thread_posts(double, thread.id) if r.json["nonce"] == nonce]
        assert len(again) == 2  # re-sent after the restart, answered with the first message
        assert again[1].response["id"] == again[0].response["id"]
        assert len(double.command_syncs) == 1
        assert await process.terminate() == 0
        assert "Traceback" not in process.stderr, process.stderr
    finally:
        await process.stop_quietly()


async def test_a_rejected_token_exits_2_naming_the_setting(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """A token Discord answers 401 for: exit 2, one line naming OPSROOM_DISCORD_TOKEN."""
    process = OpsroomProcess(
        discord_double, tmp_path, tmp_path / "opsroom.db", token="not-the-token"
    )
    try:
        await process.start()
        assert await process.wait() == 2
    finally:
        await process.stop_quietly()
    stderr = process.stderr
    named = [line for line in stderr.splitlines() if "OPSROOM_DISCORD_TOKEN" in line]
    assert len(named) == 1 and named[0].startswith("opsroom: OPSROOM_DISCORD_TOKEN: "), stderr
    assert "Traceback" not in stderr
    assert [r.status for r in discord_double.requests_to("GET /users/@me")] == [401]
    assert discord_double.command_syncs == [] and discord_double.gateway.identifies == []

"""The Discord double itself, driven by a plain discord.ext.commands.Bot over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.e2e.discord_double import MESSAGE_ROUTE, DiscordDouble, point_discord_py_at

SYNC_ROUTE = "PUT /applications/{application_id}/guilds/{guild_id}/commands"


class AckView(discord.ui.View):
    """A persistent alert view: one button that acknowledges and disables itself."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Acknowledge", custom_id="alert:ack")
    async def ack(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Edit the alert in place (callback type 7)."""
        button.disabled = True
        await interaction.response.edit_message(
            content=f"acknowledged by {interaction.user.name}", view=self
        )


class NoteModal(discord.ui.Modal, title="Note"):
    """A one-field modal."""

    text = discord.ui.TextInput(label="Text", custom_id="note:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Echo the submitted text."""
        await interaction.response.send_message(f"noted {self.text.value}")


class Timeline(app_commands.Group):
    """/timeline add, with every resolvable option type."""

    def __init__(self) -> None:
        super().__init__(name="timeline", description="Timeline entries")

    @app_commands.command(name="add", description="Add an entry")
    async def add(
        self,
        interaction: discord.Interaction,
        text: str,
        who: discord.Member | None = None,
        where: discord.TextChannel | None = None,
        role: discord.Role | None = None,
    ) -> None:
        """Answer, then follow up ephemerally."""
        names = [getattr(x, "name", "-") for x in (who, where, role)]
        await interaction.response.send_message(
            f"added {text} by {names[0]} in #{names[1]} role {names[2]}"
        )
        await interaction.followup.send("saved", ephemeral=True)


class SampleBot(commands.Bot):
    """A minimal bot exercising what the double must serve."""

    def __init__(self, guild_id: int, **options: object) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.guild_id = guild_id
        self.seen: list[int] = []
        self.ready_count = 0
        self.resumed_count = 0
        self.errors: list[Exception] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause before a re-IDENTIFY (client.py:611) to stay fast."""

    async def setup_hook(self) -> None:
        """Register commands in the test guild, the persistent view, then sync."""
        guild = discord.Object(id=self.guild_id)
        self.tree.add_command(Timeline(), guild=guild)
        self.tree.add_command(
            app_commands.ContextMenu(name="Add to timeline", callback=add_to_timeline), guild=guild
        )
        for command in (note, slow, pick, perms, work, setup):
            self.tree.add_command(command, guild=guild)
        self.add_view(AckView())
        await self.tree.sync(guild=guild)

    async def on_ready(self) -> None:
        """Count READYs (one per IDENTIFY)."""
        self.ready_count += 1

    async def on_resumed(self) -> None:
        """Count RESUMEDs."""
        self.resumed_count += 1

    async def on_message(self, message: discord.Message) -> None:
        """Record every MESSAGE_CREATE the client processed."""
        self.seen.append(message.id)


async def add_to_timeline(interaction: discord.Interaction, message: discord.Message) -> None:
    """Message context menu: echo the target's text ephemerally."""
    await interaction.response.send_message(f"added: {message.content}", ephemeral=True)


@app_commands.command(name="note", description="Write a note")
async def note(interaction: discord.Interaction) -> None:
    """Open a modal."""
    await interaction.response.send_modal(NoteModal())


@app_commands.command(name="slow", description="Answer too late")
async def slow(interaction: discord.Interaction) -> None:
    """Miss the 3 s deadline (shortened by the test), keeping the error."""
    await asyncio.sleep(0.4)
    try:
        await interaction.response.send_message("late")
    except discord.HTTPException as exc:
        interaction.client.errors.append(exc)  # type: ignore[attr-defined]


@app_commands.command(name="pick", description="Autocomplete")
async def pick(interaction: discord.Interaction, name: str) -> None:
    """Echo the pick."""
    await interaction.response.send_message(name)


@pick.autocomplete("name")
async def pick_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice]:
    """Suggest names starting with what was typed."""
    names = ["api", "db", "dns"]
    return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]


@app_commands.command(name="perms", description="Can I send here?")
async def perms(interaction: discord.Interaction) -> None:
    """Report the invoking member's send permission in the channel."""
    await interaction.response.send_message(f"send={interaction.permissions.send_messages}")


@app_commands.command(name="work", description="Defer, then follow up twice")
async def work(interaction: discord.Interaction) -> None:
    """Defer with thinking, then send two followups."""
    await interaction.response.defer(thinking=True)
    await interaction.followup.send("first")
    await interaction.followup.send("second")


@app_commands.command(name="setup", description="Managers only")
@app_commands.default_permissions(manage_guild=True)
async def setup(interaction: discord.Interaction) -> None:
    """A command Discord only offers to members with Manage Server."""
    await interaction.response.send_message("configured")


@pytest.fixture
async def bot(discord_double: DiscordDouble) -> AsyncIterator[SampleBot]:
    """A SampleBot logged in to the double and ready."""
    async with discord_double.running(SampleBot(discord_double.guild.id)) as client:
        yield client


def channel_of(bot: SampleBot, double: DiscordDouble) -> discord.TextChannel:
    channel = bot.get_channel(double.general.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def test_point_discord_py_at_sets_and_restores() -> None:
    """The redirection helper sets Route.BASE and DEFAULT_GATEWAY, then puts them back."""
    double = DiscordDouble()
    double.port = 4242
    socket = discord.gateway.DiscordWebSocket
    before = discord.http.Route.BASE, socket.DEFAULT_GATEWAY
    with point_discord_py_at(double):
        url = discord.http.Route("GET", "/users/@me").url
        assert url == "http://127.0.0.1:4242/api/v10/users/@me"
        assert str(socket.DEFAULT_GATEWAY) == "ws://127.0.0.1:4242/gateway"
    after = discord.http.Route.BASE, socket.DEFAULT_GATEWAY
    assert after == before


async def test_startup_on_the_wire(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """Login asks /users/@me then the application, syncs commands, and on_ready fires once."""
    routes = [r.route for r in discord_double.requests]
    assert routes[:3] == ["GET /users/@me", "GET /oauth2/applications/@me", SYNC_ROUTE]
    assert [s["guild_id"] for s in discord_double.command_syncs] == [discord_double.guild.id]
    names = {c["name"] for c in discord_double.command_syncs[0]["commands"]}
    assert names == {
        "timeline",
        "Add to timeline",
        "note",
        "slow",
        "pick",
        "perms",
        "work",
        "setup",
    }
    assert bot.ready_count == 1
    assert [c.name for c in bot.get_guild(discord_double.guild.id).channels] == ["general"]
    identify = discord_double.gateway.identifies[0]
    assert identify["intents"] == discord.Intents.default().value
    assert discord_double.gateway.connections[0].path == "/gateway"


async def test_slash_command_round_trip(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """A subcommand with user/channel/role options is answered, then followed up."""
    responders = discord_double.world.add_role(discord_double.guild, "responders")
    record = await discord_double.slash(
        discord_double.guild,
        discord_double.general,
        discord_double.alice,
        "timeline",
        subcommand="add",
        options={
            "text": "db down",
            "who": discord_double.bob,
            "where": discord_double.general,
            "role": responders,
        },
    )
    assert record.response_type == 4
    assert record.data["content"] == "added db down by bob in #general role responders"
    assert [(m.content, m.ephemeral) for m in record.followups] == [("saved", True)]
    shown = discord_double.messages_in(discord_double.general)
    assert [m.content for m in shown] == [record.data["content"]]  # ephemerals stay private


async def test_deferral_then_followups(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """After a deferral the first followup fills the thinking message; the next is new."""
    record = await discord_double.slash(
        discord_double.guild, "general", "alice", "work", settle=0.2
    )
    assert record.response_type == 5
    assert [m.content for m in record.followups] == ["first", "second"]
    assert record.followups[0] is record.original and not record.original.flags & 128
    assert [m.content for m in discord_double.messages_in("general")] == ["first", "second"]


async def test_component_click_edits_the_message(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """A click on a persistent button is answered with an in-place edit (type 7)."""
    sent = await channel_of(bot, discord_double).send("alert: db down", view=AckView())
    record = await discord_double.click(sent.id, discord_double.alice, "alert:ack")
    assert record.response_type == 7
    stored = discord_double.world.messages[sent.id]
    assert stored.content == "acknowledged by alice"
    assert stored.components[0]["components"][0]["disabled"] is True
    with pytest.raises(ValueError, match="disabled"):
        await discord_double.click(sent.id, discord_double.bob, "alert:ack")


async def test_message_context_menu(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """A message command carries target_id and resolved.messages."""
    target = discord_double.post_message(discord_double.general, discord_double.bob, "api 500s")
    record = await discord_double.message_command(
        discord_double.guild,
        discord_double.general,
        discord_double.alice,
        "Add to timeline",
        target,
    )
    assert (record.data["content"], record.ephemeral) == ("added: api 500s", True)


async def test_modal_and_autocomplete(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """A modal opened by a command can be submitted; autocomplete returns choices."""
    opened = await discord_double.slash(discord_double.guild, "general", "alice", "note")
    assert opened.response_type == 9
    submitted = await discord_double.submit_modal(opened, {"note:text": "rolled back"})
    assert submitted.data["content"] == "noted rolled back"
    typed = await discord_double.autocomplete(
        discord_double.guild, "general", "bob", "pick", focused="name", options={"name": "d"}
    )
    assert typed.response_type == 8
    assert [c["value"] for c in typed.data["choices"]] == ["db", "dns"]


@pytest.mark.discord_double(interaction_deadline=0.2)
async def test_late_callback_is_unknown_interaction(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """A callback after the deadline gets 404 code 10062, as on Discord."""
    record = await discord_double.slash(
        discord_double.guild, "general", "alice", "slow", wait=False
    )
    await discord_double.wait_until(lambda: bot.errors, 5.0, "the late callback")
    assert [(e.status, e.code) for e in bot.errors] == [(404, 10062)]
    assert record.callback is None and record.refused[0][0] == 404


async def test_second_acknowledgement_is_refused(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """A second callback for the same interaction gets 400 code 40060."""
    record = await discord_double.slash(discord_double.guild, "general", "alice", "perms")
    url = f"{discord_double.api_base}/interactions/{record.id}/{record.token}/callback"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"type": 4, "data": {"content": "again"}}) as response,
    ):
        assert response.status == 400
        assert response.headers["Content-Type"] == "application/json"
        assert (await response.json())["code"] == 40060


@pytest.mark.discord_double(message_limit=(5, 1.0))
async def test_twelve_messages_honour_the_headers(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """12 sends at 5 per second: no 429 provoked, all delivered in order, paced by headers."""
    channel = channel_of(bot, discord_double)
    started = time.monotonic()
    for number in range(12):
        await channel.send(f"message {number}")
    elapsed = time.monotonic() - started
    assert discord_double.limiter.provoked_429s == 0
    shown = [m.content for m in discord_double.messages_in(discord_double.general)]
    assert shown == [f"message {n}" for n in range(12)]
    assert elapsed >= 2.0  # three windows of one second: the client waited as told
    posts = discord_double.requests_to(MESSAGE_ROUTE)
    assert all(r.status == 200 for r in posts) and len(posts) == 12
    headers = {
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Reset-After",
        "X-RateLimit-Bucket",
    }
    assert all(headers <= set(r.response_headers) for r in posts)


@pytest.mark.discord_double(message_limit=(5, 1.0))
async def test_concurrent_burst_provokes_no_429(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """12 concurrent sends also stay within the bucket: discord.py queues on the headers."""
    channel = channel_of(bot, discord_double)
    await asyncio.gather(*(channel.send(f"burst {n}") for n in range(12)))
    assert discord_double.limiter.provoked_429s == 0
    shown = {m.content for m in discord_double.messages_in(discord_double.general)}
    assert shown == {f"burst {n}" for n in range(12)}


@pytest.mark.discord_double(global_limit=(3, 1.0))
async def test_global_limit_is_enforced(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """Past the global limit the double answers a global 429; discord.py waits and retries."""
    fetches = [bot.fetch_channel(discord_double.general.id) for _ in range(3)]
    fetches += [bot.fetch_user(discord_double.bob.id) for _ in range(3)]
    found = await asyncio.gather(*fetches)
    assert len(found) == 6
    given = discord_double.limiter.given
    assert given and {r.scope for r in given} == {"global"}
    assert discord_double.limiter.provoked_429s == len(given)  # discord.py cannot pre-empt it


async def test_route_buckets_are_configurable(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """A per-route limit set at run time is announced in the headers and honoured."""
    route = "PATCH /channels/{channel_id}/messages/{message_id}"
    discord_double.limiter.set_route(route, 2, 0.5)
    message = await channel_of(bot, discord_double).send("card v0")
    started = time.monotonic()
    for version in range(1, 6):
        await message.edit(content=f"card v{version}")
    assert time.monotonic() - started >= 1.0  # 5 edits at 2 per 0.5 s span three windows
    edits = discord_double.requests_to(route)
    assert [r.response_headers["X-RateLimit-Limit"] for r in edits] == ["2"] * 5
    assert discord_double.limiter.provoked_429s == 0
    assert discord_double.world.messages[message.id].content == "card v5"


@pytest.mark.parametrize("scope", ["user", "global"])
async def test_injected_429_is_retried(
    discord_double: DiscordDouble, bot: SampleBot, scope: str
) -> None:
    """A 429 with Via and retry_after is slept on and retried; the message lands once."""
    discord_double.limiter.inject(MESSAGE_ROUTE, status=429, retry_after=0.3, scope=scope)
    started = time.monotonic()
    await channel_of(bot, discord_double).send("after a 429")
    assert time.monotonic() - started >= 0.3
    assert [r.status for r in discord_double.requests_to(MESSAGE_ROUTE)] == [429, 200]
    assert discord_double.limiter.injected_429s == 1
    assert discord_double.limiter.provoked_429s == 0
    assert [m.content for m in discord_double.messages_in("general")] == ["after a 429"]


async def test_5xx_after_commit_is_absorbed_by_the_nonce(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """A 500 after the message was created: discord.py retries with its nonce, no duplicate."""
    discord_double.limiter.inject(MESSAGE_ROUTE, status=500, after_commit=True)
    sent = await channel_of(bot, discord_double).send("exactly once")
    assert [r.status for r in discord_double.requests_to(MESSAGE_ROUTE)] == [500, 200]
    assert [m.id for m in discord_double.messages_in("general")] == [sent.id]


async def test_lost_callback_answer_is_retried_into_40060(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """A callback applied but answered 500 is retried by discord.py and meets 40060."""
    route = "POST /interactions/{webhook_id}/{webhook_token}/callback"
    discord_double.limiter.inject(route, status=500, after_commit=True)
    record = await discord_double.slash(discord_double.guild, "general", "alice", "perms")
    await discord_double.wait_until(lambda: record.refused, 5.0, "the retried callback")
    assert [r.status for r in discord_double.requests_to(route)] == [500, 400]
    assert record.refused[0][0] == 400 and record.data["content"] == "send=True"


async def test_nonce_makes_creation_idempotent(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """The same nonce with enforce_nonce returns the first message instead of a new one."""
    channel = channel_of(bot, discord_double)
    first = await channel.send("card", nonce="incident-7-card")
    again = await channel.send("card (retry)", nonce="incident-7-card")
    assert again.id == first.id and again.content == "card"
    assert len(discord_double.messages_in("general")) == 1
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("x", nonce="n" * 26)  # Discord caps nonces at 25 characters
    assert refused.value.code == 50035


async def _resume_and_count(double: DiscordDouble, bot: SampleBot, breaker: str) -> None:
    delivered = [double.post_message("general", "bob", f"seen {n}").id for n in range(3)]
    await double.wait_until(lambda: bot.seen == delivered, 5.0, "the first events")
    if breaker == "reconnect":
        await double.gateway.send_reconnect()
    elif breaker == "drop":
        await double.gateway.drop()
    else:
        double.gateway.freeze()
    missed = [double.post_message("general", "bob", f"missed {n}").id for n in range(5)]
    await double.wait_until(lambda: bot.resumed_count == 1, 10.0, "RESUMED")
    later = double.post_message("general", "bob", "after").id
    await double.wait_until(lambda: later in bot.seen, 5.0, "a live event")
    assert bot.seen == [*delivered, *missed, later]  # each exactly once, in order
    resume = double.gateway.resumes[-1]
    assert resume.accepted and resume.path == "/gateway-resume"
    assert [e for _, e in resume.replayed].count("MESSAGE_CREATE") == 5
    assert len(double.gateway.identifies) == 1 and bot.ready_count == 1


async def test_reconnect_op7_resumes_and_replays(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """After op 7 the client RESUMEs and gets the missed dispatches exactly once."""
    await _resume_and_count(discord_double, bot, "reconnect")


async def test_abrupt_drop_resumes_and_replays(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """After a TCP abort the client RESUMEs and gets the missed dispatches exactly once."""
    await _resume_and_count(discord_double, bot, "drop")


async def test_silent_gateway_is_detected_and_resumed(discord_double: DiscordDouble) -> None:
    """A gateway gone silent (no ACKs, no events) is left by the client, which RESUMEs."""
    async with discord_double.running(
        SampleBot(discord_double.guild.id, heartbeat_timeout=1.5)
    ) as client:
        await _resume_and_count(discord_double, client, "freeze")


async def test_invalid_session_reidentifies(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """INVALID_SESSION (not resumable) makes the client IDENTIFY again and get a new READY."""
    await discord_double.gateway.invalidate_session(resumable=False)
    await discord_double.wait_until(lambda: bot.ready_count == 2, 10.0, "a second READY")
    assert len(discord_double.gateway.identifies) == 2
    assert discord_double.gateway.resumes == []


async def test_limits_answer_50035(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """Content, embed-total and custom_id limits are enforced like Discord (400, 50035)."""
    channel = channel_of(bot, discord_double)
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="x", custom_id="c" * 101))
    bad = [
        {"content": "x" * 2001},
        {"embeds": [discord.Embed(description="d" * 4096), discord.Embed(description="d" * 2000)]},
        {"content": "ok", "view": view},
    ]
    for kwargs in bad:
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(**kwargs)
        assert (refused.value.status, refused.value.code) == (400, 50035)
    errors = discord_double.requests_to(MESSAGE_ROUTE)[-1].response["errors"]
    assert "custom_id" in errors["components"]["0"]["components"]["0"]
    assert discord_double.messages_in("general") == []


async def test_overwrites_and_interaction_permissions(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """Overwrites sent as ints (create) and strings (edit) shape members' permissions."""
    guild = bot.get_guild(discord_double.guild.id)
    read_only = discord.PermissionOverwrite(send_messages=False, add_reactions=False)
    room = await guild.create_text_channel(
        "Operating Room",
        overwrites={
            guild.default_role: read_only,
            guild.me: discord.PermissionOverwrite(send_messages=True),
        },
    )
    assert room.name == "operating-room"
    await room.set_permissions(guild.me, send_messages=True, embed_links=True)
    stored = discord_double.channel("operating-room").overwrites
    assert (
        stored[guild.me.id].allow == discord.Permissions(send_messages=True, embed_links=True).value
    )
    record = await discord_double.slash(guild.id, "operating-room", "bob", "perms")
    assert record.data["content"] == "send=False"
    await room.send("the bot may still post")


async def test_pins_threads_and_files(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """Pin (the 2.7.1 route), a thread from a message, and a multipart file upload."""
    card = await channel_of(bot, discord_double).send("incident card")
    await card.pin()
    thread = await card.create_thread(name="inc-1")
    await thread.send("postmortem", file=discord.File(__file__, filename="pm.md"))
    assert discord_double.requests_to("PUT /channels/{channel_id}/messages/pins/{message_id}")
    assert discord_double.world.messages[card.id].pinned
    assert [m.type for m in discord_double.messages_in("general")] == [0, 6]  # pin notice
    assert thread.id == card.id  # Discord gives a message's thread the message's id
    upload = discord_double.messages_in(thread.id)[-1]
    assert upload.files[0][0] == "pm.md" and upload.attachments[0]["size"] > 0


async def test_default_member_permissions_gate_invocation(
    discord_double: DiscordDouble, bot: SampleBot
) -> None:
    """A member without the command's default permissions cannot even invoke it."""
    with pytest.raises(PermissionError, match="bob cannot use /setup"):
        await discord_double.slash(discord_double.guild, "general", "bob", "setup")
    record = await discord_double.slash(discord_double.guild, "general", "alice", "setup")
    assert record.data["content"] == "configured"


async def test_channel_renames_hit_the_hidden_sub_limit(discord_double: DiscordDouble) -> None:
    """A third rename within 10 minutes gets a long 429 that no header announced."""
    client = SampleBot(discord_double.guild.id, max_ratelimit_timeout=30.0)
    async with discord_double.running(client):
        channel = client.get_channel(discord_double.general.id)
        await channel.edit(name="inc-1-db")
        await channel.edit(topic="database down")
        with pytest.raises(discord.RateLimited) as limited:
            await channel.edit(name="inc-1-db-resolved")
    assert limited.value.retry_after > 500
    assert discord_double.channel(discord_double.general.id).name == "inc-1-db"
    assert discord_double.limiter.provoked_429s == 1


@pytest.mark.allow_unknown_routes
async def test_unknown_routes_are_recorded(discord_double: DiscordDouble, bot: SampleBot) -> None:
    """An unmodelled route answers 404 JSON and is recorded, never faked."""
    route = discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=discord_double.guild.id)
    with pytest.raises(discord.NotFound):
        await bot.http.request(route)
    assert [r.path for r in discord_double.unknown_routes] == [
        f"/guilds/{discord_double.guild.id}/bans"
    ]


async def test_cleanly_closed_session_cannot_resume(discord_double: DiscordDouble) -> None:
    """A raw client closing with 1000 ends its session: RESUME gets INVALID_SESSION."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(discord_double.gateway_url) as ws:
            assert (await ws.receive_json())["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": discord_double.token, "intents": 1}})
            ready = await ws.receive_json()
            assert ready["t"] == "READY" and ready["s"] == 1
            await ws.close(code=1000)
        await discord_double.wait_until(lambda: not discord_double.gateway.live, 5.0, "closing")
        async with http.ws_connect(ready["d"]["resume_gateway_url"]) as ws:
            await ws.receive_json()
            session = ready["d"]["session_id"]
            await ws.send_json(
                {"op": 6, "d": {"token": discord_double.token, "session_id": session, "seq": 1}}
            )
            assert await ws.receive_json() == {"op": 9, "d": False}

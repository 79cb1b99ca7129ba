"""The real Opsroom bot on the Discord double: a database, people, commands, and the process.

In process, `OpsroomDatabase` wires a real migrated SQLite file the way `opsroom run` does
(services over units of work whose commits wake the bot's outbox notifier) and builds bots
over it; a second bot over the same database is a restart. `OpsroomProcess` runs the real
`python -m bot run` against the double instead, for signals, crashes and exit codes.

`Crew` adds the people of a realistic guild to the double: alice owns it, carol holds the
responder role, bob has no role and may only watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from discord import app_commands
from sqlalchemy import text

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory, upgrade_to_head
from bot.adapters.db.tables import metadata
from bot.adapters.discord import OpsroomBot, create_bot
from bot.core.clock import SystemClock
from bot.core.model import TimelineEntry
from bot.core.services import IncidentRef, Services
from tests.e2e.discord_double import Channel, DiscordDouble, InteractionRecord, Message, Role, User
from tests.e2e.discord_double.permissions import channel_permissions

# Permission bits (Discord's numbering; docs/design.md lists them).
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
# The read-only operating room: denied to @everyone, allowed (with more) to the bot.
ROOM_DENY = (
    SEND_MESSAGES
    | ADD_REACTIONS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
)
ROOM_BOT_ALLOW = (
    ROOM_DENY | VIEW_CHANNEL | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | MANAGE_THREADS
)
POSTING = SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | ADD_REACTIONS
READING = VIEW_CHANNEL | READ_MESSAGE_HISTORY

GLOBAL_SYNC = "PUT /applications/{application_id}/commands"
GUILD_SYNC = "PUT /applications/{application_id}/guilds/{guild_id}/commands"
SEQ = re.compile(r"^`(\d+)` ")


# -- the database and bots over it ---------------------------------------------------------


class CommitBell:
    """The after-commit callback; rings every bot built over the database (as app.py does)."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []

    def __call__(self) -> None:
        for listener in self.listeners:
            listener()


class OpsroomDatabase:
    """A migrated database (a SQLite file, or a database URL) with the services `opsroom run`
    builds over it."""

    def __init__(self, database: Path | str) -> None:
        self.url = database if isinstance(database, str) else f"sqlite+aiosqlite:///{database}"
        self.bell = CommitBell()
        self.engine: Any = None
        self.services: Services | None = None

    async def open(self) -> OpsroomDatabase:
        await upgrade_to_head(self.url)
        self.engine = create_engine(self.url)
        sessions = session_factory(self.engine)
        self.uow_factory = lambda: SqlUnitOfWork(sessions, on_commit=self.bell)
        self.services = Services.build(self.uow_factory, SystemClock())
        return self

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()

    async def empty(self) -> OpsroomDatabase:
        """Delete every row (a shared PostgreSQL test database starts each test empty)."""
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        async with self.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return self

    def bot(self, *, extra: app_commands.Command | None = None, **options: Any) -> OpsroomBot:
        """A real Opsroom bot over this database, fast to become ready on the double."""
        options.setdefault("guild_ready_timeout", 0.1)
        assert self.services is not None
        bot = create_bot(self.services, self.uow_factory, **options)
        if extra is not None:
            bot.tree.add_command(extra)
        self.bell.listeners.append(bot.notifier.wake)
        return bot

    async def entries(self, guild_id: int, number: int = 1) -> list[TimelineEntry]:
        """The incident's timeline as stored, by seq."""
        assert self.services is not None
        found = await self.services.timeline.show(guild_id, IncidentRef(number=number), None)
        return sorted(found, key=lambda e: e.seq)


# -- people and commands -------------------------------------------------------------------


@dataclass
class Crew:
    """The guild's people on the double: alice (owner), carol (responder), bob (watcher)."""

    double: DiscordDouble
    responders: Role
    alice: User
    carol: User
    bob: User

    @classmethod
    def join(cls, double: DiscordDouble) -> Crew:
        world = double.world
        responders = world.add_role(double.guild, "Responders")
        carol = world.add_user("carol")
        world.add_member(double.guild, carol, roles=[responders])
        return cls(double, responders, double.alice, carol, double.bob)

    async def run(
        self, who: User, channel: Any, command: str, /, **options: Any
    ) -> InteractionRecord:
        """`who` runs `/group sub` in `channel` with `options`; `wait=False` only dispatches."""
        wait = {k: options.pop(k) for k in ("wait", "within", "settle") if k in options}
        group, _, sub = command.partition(" ")
        return await self.double.slash(
            self.double.guild,
            channel,
            who,
            group,
            subcommand=sub or None,
            options=options,
            **wait,
        )

    async def setup(self) -> InteractionRecord:
        """alice runs `/opsroom setup responder_role:@Responders`."""
        done = await self.run(
            self.alice, "general", "opsroom setup", responder_role=self.responders
        )
        assert done.ephemeral and "Opsroom is set up" in reply_text(done), reply_text(done)
        return done

    async def declare(self, title: str = "Database down") -> Channel:
        """carol declares a sev1 in #general; returns the working channel."""
        done = await self.run(
            self.carol, "general", "incident declare", title=title, severity="sev1"
        )
        assert "declared" in reply_text(done), reply_text(done)
        return newest_incident_channel(self.double)

    def permissions(self, user: User, channel: Channel) -> int:
        """What `user` may do in `channel` (threads: their parent's overwrites)."""
        guild = self.double.world.guild_of(channel)
        return channel_permissions(guild, channel, guild.members[user.id])


def reply_text(record: InteractionRecord) -> str:
    """What the user saw: the response's content, else the followups' (after a deferral)."""
    texts = [m.content for m in record.messages() if m.content]
    return "\n".join(texts) or str(record.data.get("content") or "")


def newest_incident_channel(double: DiscordDouble) -> Channel:
    found = [
        c for c in double.world.channels.values() if c.name.startswith("inc-") and not c.deleted
    ]
    assert found, "no #inc-… channel was made"
    return max(found, key=lambda c: c.id)


def room(double: DiscordDouble) -> Channel:
    return double.channel("operating-room")


def the_thread(double: DiscordDouble) -> Channel:
    """The operating room's only thread (one incident per test)."""
    (thread,) = [c for c in double.world.channels.values() if c.parent_id == room(double).id]
    return thread


def bot_posts(double: DiscordDouble, channel: Any) -> list[Message]:
    """What the bot posted in a channel, in order (interaction replies too; no system notices)."""
    bot_id = double.world.bot.id
    return [m for m in double.messages_in(channel, types=(0, 19, 20)) if m.author.id == bot_id]


DRAFT_NOTICE = "📄 Postmortem draft"


def timeline_posts(double: DiscordDouble, thread: Channel) -> list[Message]:
    """The bot's posts in the thread but the postmortem draft posted on close (it may come
    before or after the last timeline lines)."""
    return [m for m in bot_posts(double, thread) if not m.content.startswith(DRAFT_NOTICE)]


def thread_seqs(double: DiscordDouble, thread: Channel) -> list[int]:
    """The entry numbers of the timeline lines in the thread, in posting order."""
    seqs = []
    for message in timeline_posts(double, thread):
        match = SEQ.match(message.content)
        assert match, f"not a timeline line: {message.content!r}"
        seqs.append(int(match.group(1)))
    return seqs


async def wait_for_entries(
    double: DiscordDouble, thread: Channel, count: int, within: float = 20.0
) -> None:
    await double.wait_until(
        lambda: len(timeline_posts(double, thread)) >= count,
        within,
        f"{count} timeline lines in the thread",
    )


def assert_thread_is_the_timeline(
    double: DiscordDouble, thread: Channel, entries: list[TimelineEntry]
) -> None:
    """Every stored entry appears in the thread exactly once, in timeline order."""
    lines = [m.content for m in timeline_posts(double, thread)]
    assert thread_seqs(double, thread) == [e.seq for e in entries], lines
    for line, entry in zip(lines, entries, strict=True):
        assert entry.text in line, (line, entry.text)


# -- the real process ----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OpsroomProcess:
    """`python -m bot run [--role …]` pointed at the double, its output in files under
    `workdir`; `database` is a SQLite file or a database URL."""

    def __init__(
        self,
        double: DiscordDouble,
        workdir: Path,
        database: Path | str,
        *,
        token: str | None = None,
        role: str = "all",
    ) -> None:
        self.double = double
        self.workdir = workdir
        self.role = role
        self.port = free_port()
        url = database if isinstance(database, str) else f"sqlite+aiosqlite:///{database}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
        self.env.update(
            OPSROOM_DISCORD_TOKEN=token or double.token,
            OPSROOM_DISCORD_API_BASE=double.api_base,
            OPSROOM_DISCORD_GATEWAY_URL=double.gateway_url,
            OPSROOM_DATABASE_URL=url,
            OPSROOM_HTTP_PORT=str(self.port),
            OPSROOM_PUBLIC_URL=f"http://127.0.0.1:{self.port}",
        )
        self.runs = 0
        self.process: asyncio.subprocess.Process | None = None
        self.stderr_path: Path | None = None

    @property
    def url(self) -> str:
        """Base URL of the process's HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> OpsroomProcess:
        self.runs += 1
        self.stderr_path = self.workdir / f"opsroom-{self.role}-{self.port}-{self.runs}.stderr"
        with self.stderr_path.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--role",
                self.role,
                cwd=self.workdir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
            )
        return self

    async def command(self, *args: str, within: float = 30.0) -> str:
        """Run another `python -m bot …` command with this process's settings (same database,
        same public URL); its stdout, failing with its stderr unless it exits 0."""
        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=self.workdir,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(command.communicate(), within)
        finally:
            if command.returncode is None:
                command.kill()
                await command.wait()
        stderr = err.decode(errors="replace")
        assert command.returncode == 0, f"opsroom {' '.join(args)} exited:\n{stderr}"
        return out.decode()

    async def create_webhook(self, guild_id: int, source: str, name: str | None = None) -> str:
        """`opsroom webhook create`: the printed URL (on this process's server)."""
        args = ["webhook", "create", "--guild", str(guild_id), "--source", source]
        url = (await self.command(*args, *(["--name", name] if name else []))).strip()
        assert url.startswith(f"{self.url}/hooks/{source}/"), url
        return url

    @property
    def stderr(self) -> str:
        assert self.stderr_path is not None
        return self.stderr_path.read_text(errors="replace")

    async def readyz(self) -> int | None:
        """The /readyz status, or None while nobody listens."""
        return (await self.readiness())[0]

    async def readiness(self) -> tuple[int | None, dict[str, Any]]:
        """The /readyz status and JSON body, or (None, {}) while nobody listens."""
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
                http.get(f"{self.url}/readyz") as response,
            ):
                return response.status, await response.json()
        except (aiohttp.ClientError, TimeoutError):
            return None, {}

    async def wait_ready(self, within: float = 30.0) -> None:
        """Poll /readyz until 200 (database and gateway), failing if the process ends."""
        assert self.process is not None
        deadline = time.monotonic() + within
        while await self.readyz() != 200:
            if self.process.returncode is not None:
                raise AssertionError(f"opsroom exited {self.process.returncode}:\n{self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"/readyz not 200 within {within}s:\n{self.stderr}")
            with contextlib.suppress(TimeoutError):  # the poll interval; ends early on exit
                await asyncio.wait_for(asyncio.shield(self.process.wait()), 0.1)

    async def wait(self, within: float = 30.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)

    async def terminate(self, within: float = 30.0) -> int:
        """SIGTERM, then the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await self.wait(within)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, like a crash or an OOM kill."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.kill()

    async def stop_quietly(self) -> None:
        """Teardown: make sure nothing is left running."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

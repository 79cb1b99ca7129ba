"""Every command answers within Discord's 3 s, whatever the database is doing: another
process holding SQLite's write lock gets a one-line "busy" reply (the lock wait is shorter
than the deadline), and work slower than the deadline is deferred privately in time."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import discord
import pytest
from sqlalchemy import text

from bot.adapters.db.engine import LOCK_WAIT_MS
from bot.adapters.discord import interactions
from bot.adapters.discord.client import STORAGE_BUSY
from bot.core.errors import StorageBusyError
from tests.discord.conftest import World, acknowledge, declare, first_answer

REPLY, DEFER = 4, 5  # interaction callback types


@pytest.fixture
def database_file(sessions) -> str:
    """The path of the test's SQLite file."""
    return str(sessions.kw["bind"].url.database)


@pytest.fixture
def write_lock(database_file: str) -> Iterator[sqlite3.Connection]:
    """Another process's view: a plain sqlite3 connection, ready to take the write lock."""
    other = sqlite3.connect(database_file, isolation_level=None, check_same_thread=False)
    try:
        yield other
    finally:
        other.close()


async def test_the_lock_wait_is_shorter_than_discords_deadline(sessions):
    """What every connection is told to wait for a lock, read back from SQLite itself."""
    async with sessions() as session:
        waited = (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert waited == LOCK_WAIT_MS < 3000


async def test_timeline_add_with_the_database_locked_answers_busy_in_one_line(
    ready: World, write_lock: sqlite3.Connection
):
    """Another connection holds the write lock: `/timeline add` replies (not a defer, not
    silence) with the one-line busy message, privately; once the lock goes, it works."""
    channel = await declare(ready)
    write_lock.execute("BEGIN IMMEDIATE")
    try:
        result = await ready.alice.slash(channel, "timeline add", text="Primary is out of disk")
    finally:
        write_lock.execute("ROLLBACK")
    assert result.acknowledged and result.ephemeral
    assert first_answer(ready.env) == REPLY
    assert result.response.content == STORAGE_BUSY and "\n" not in STORAGE_BUSY
    (error,) = acknowledge(ready.env)
    assert isinstance(error.original, StorageBusyError)
    again = await ready.alice.slash(channel, "timeline add", text="Primary is out of disk")
    assert again.response.content.startswith("📝 Entry 2 added")


class _Response:
    """The part of discord.py's InteractionResponse the guard uses, recording its calls.

    (Under SimCord the guard's timer does not fire while the command waits on the database
    thread, so its timing is exercised here, against a stand-in, on a real event loop.)"""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.answered = asyncio.Event()

    def is_done(self) -> bool:
        return bool(self.calls)

    async def defer(self, **options) -> None:
        self.calls.append(("defer", options))
        self.answered.set()


class _Interaction:
    def __init__(self) -> None:
        self.created_at = discord.utils.utcnow()
        self.type = discord.InteractionType.application_command
        self.response = _Response()


async def test_work_past_the_limit_is_deferred_privately_and_still_finishes(
    monkeypatch: pytest.MonkeyPatch,
):
    """Not answered 0.05 s in (the limit brought down from 2.5 s): one private "thinking…"
    defer, and the work's result still comes back."""
    monkeypatch.setattr(interactions, "ANSWER_WITHIN_SECONDS", 0.05)
    interaction = _Interaction()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "done"

    task = asyncio.create_task(interactions.answered_in_time(interaction, work()))
    await interaction.response.answered.wait()
    release.set()
    assert await task == "done"
    assert interaction.response.calls == [("defer", {"thinking": True, "ephemeral": True})]


async def test_work_that_answers_in_time_is_not_deferred():
    """A command that answered itself is left alone."""
    interaction = _Interaction()

    async def work() -> int:
        await interaction.response.defer(thinking=False)  # its own first answer
        return 7

    assert await interactions.answered_in_time(interaction, work()) == 7
    assert interaction.response.calls == [("defer", {"thinking": False})]

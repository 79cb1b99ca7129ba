"""The real bot under SimCord, over a real migrated SQLite file database.

Every test gets a fresh database file, a hand-moved clock for the core, a bot whose
notifier is woken after each commit (as `opsroom run` wires it), and a guild with three
people: alice (responder role), bob (no role: may only watch) and carol (Manage Server).
Domain refusals travel through the command tree's error handler, which SimCord records;
they are expected, so only other errors fail a test at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest
from discord import app_commands
from simcord import ChannelHandle, Env, GuildHandle, MemberActor, RoleHandle

from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory, upgrade_to_head
from bot.adapters.discord import OpsroomBot, create_bot
from bot.core.errors import OpsroomError
from bot.core.services import Services
from tests.fakes import FakeClock


class Doorbell:
    """The after-commit callback, pointed at the notifier once the bot exists."""

    def __init__(self) -> None:
        self.target: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target()


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator:
    """Sessions on a new SQLite file migrated to head."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'opsroom.db'}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """The core's clock, moved by hand."""
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def doorbell() -> Doorbell:
    return Doorbell()


@pytest.fixture
def uow_factory(sessions, clock: FakeClock, doorbell: Doorbell) -> Callable[[], SqlUnitOfWork]:
    """Units of work that ring the doorbell after each commit, as `opsroom run` wires them."""
    return lambda: SqlUnitOfWork(sessions, clock=clock, on_commit=doorbell)


@pytest.fixture
def services(uow_factory, clock: FakeClock) -> Services:
    return Services.build(uow_factory, clock)


@pytest.fixture
def make_bot(services: Services, uow_factory, clock: FakeClock, doorbell: Doorbell):
    """Builds a bot over the test's database (a second one simulates a restart)."""

    def make(**options) -> OpsroomBot:
        bot = create_bot(services, uow_factory, clock=clock, **options)
        doorbell.target = bot.notifier.wake
        return bot

    return make


@pytest.fixture
def bot(make_bot) -> OpsroomBot:
    return make_bot()


def expected(error: BaseException) -> bool:
    """A core refusal reaching the tree's error handler: the normal way to say no."""
    return isinstance(error, app_commands.CommandInvokeError) and isinstance(
        error.original, OpsroomError
    )


def acknowledge(env: Env) -> list[BaseException]:
    """Errors recorded so far, which the test has now looked at (teardown ignores them)."""
    errors = env.errors_since(getattr(env, "opsroom_seen", 0))
    env.opsroom_seen = env.error_cursor  # type: ignore[attr-defined]
    return list(errors)


@pytest.fixture
async def env(bot: OpsroomBot) -> AsyncIterator[Env]:
    """A running SimCord environment with the bot logged in and READY."""
    env = Env(bot, check_errors=False)
    await env.start()
    try:
        yield env
    finally:
        await env.shutdown()
    unexpected = [e for e in acknowledge(env) if not expected(e)]
    if unexpected:
        raise ExceptionGroup("the bot raised unexpected errors", unexpected)  # type: ignore[arg-type]


@dataclass
class World:
    """One guild with its people, before Opsroom is set up."""

    env: Env
    guild: GuildHandle
    general: ChannelHandle
    responders: RoleHandle
    alice: MemberActor
    bob: MemberActor
    carol: MemberActor

    def channel(self, name: str) -> ChannelHandle:
        """A channel (or category) of the guild by name, as it is now."""
        return self.guild.channels[name]

    def text_channels(self, name: str) -> list[ChannelHandle]:
        """Every channel of that name (to prove nothing was made twice)."""
        return [c for c in self.env.bot.get_guild(self.guild.id).channels if c.name == name]


@pytest.fixture
def world(env: Env) -> World:
    """A guild with a responder, a watcher and an admin, and a #general channel."""
    guild = env.create_guild("Acme Ops")
    responders = guild.create_role("Responders")
    admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    general = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"), roles=[responders])
    bob = guild.add_member(env.create_user("bob"))
    carol = guild.add_member(env.create_user("carol"), roles=[admins])
    return World(env, guild, general, responders, alice, bob, carol)


@pytest.fixture
async def ready(world: World) -> World:
    """The same guild after `/opsroom setup responder_role:@Responders`."""
    result = await world.carol.slash(
        world.general, "opsroom setup", responder_role=world.responders
    )
    assert result.acknowledged, result
    return world


async def declare(world: World, title: str = "Database down", **options) -> ChannelHandle:
    """alice declares an incident; returns its working channel."""
    options.setdefault("severity", "sev1")
    result = await world.alice.slash(world.general, "incident declare", title=title, **options)
    assert result.acknowledged and not result.ephemeral, result
    guild = world.env.bot.get_guild(world.guild.id)
    channel = max((c for c in guild.text_channels if c.name.startswith("inc-")), key=lambda c: c.id)
    return world.guild.channels[channel.name]


def first_answer(env: Env) -> int:
    """The callback type of the latest interaction's first answer (4 reply, 5 defer)."""
    callbacks = [r for r in env.http_requests if r.path.startswith("/interactions/")]
    return callbacks[-1].json["type"]


async def close_anyway(world: World, channel: ChannelHandle, who: MemberActor | None = None):
    """`/incident close` of an unresolved incident, confirmed with its "Close anyway" button."""
    who = who or world.alice
    asked = await who.slash(channel, "incident close")
    assert asked.ephemeral and "Close it anyway?" in asked.response.content, asked
    return await who.click(asked.response, label="Close anyway")

"""Fixtures for core unit tests: services over the in-memory fakes and a hand-moved clock."""

from __future__ import annotations

import pytest

from bot.core.model import GuildConfig, Member, Person
from bot.core.services import Services
from tests.fakes import FakeClock, FakeDatabase

GUILD = 100
RESPONDER_ROLE = 900


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db() -> FakeDatabase:
    """A fake database with one guild set up (responder role 900, Europe/Berlin)."""
    database = FakeDatabase()
    database.store.guilds[GUILD] = GuildConfig(
        guild_id=GUILD,
        responder_role_id=RESPONDER_ROLE,
        oncall_role_id=901,
        escalation_role_id=902,
        alerts_channel_id=500,
        operating_room_id=501,
        incident_category_id=502,
        timezone="Europe/Berlin",
    )
    return database


@pytest.fixture
def services(db: FakeDatabase, clock: FakeClock) -> Services:
    return Services.build(db.uow, clock)


@pytest.fixture
def responder() -> Member:
    return Member(Person(1, "alice"), frozenset({RESPONDER_ROLE}))


@pytest.fixture
def watcher() -> Member:
    return Member(Person(2, "bob"), frozenset({123}))


@pytest.fixture
def admin() -> Member:
    return Member(Person(3, "carol"), frozenset(), manage_guild=True)

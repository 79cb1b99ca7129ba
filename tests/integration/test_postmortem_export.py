"""Postmortem drafts read from a real migrated database (SQLite and PostgreSQL) and rendered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.adapters.db import SqlUnitOfWork
from bot.core.errors import NotFoundError, ValidationError
from bot.core.model import GuildConfig
from bot.core.services import IncidentRef, Services
from bot.postmortem.export import export_markdown
from bot.postmortem.render import render_markdown
from tests.fakes import FakeClock
from tests.postmortem_scenario import RESPONDER_ROLE, play

GUILD = 100  # the golden file's Discord links name this guild
GOLDEN = Path(__file__).parents[1] / "unit" / "golden" / "postmortem_basic.md"

UowFactory = Callable[[], SqlUnitOfWork]


async def configure(uow_factory: UowFactory, template: str | None = None) -> None:
    """Store the guild's configuration directly: setup itself is not under test here."""
    async with uow_factory() as uow:
        config = GuildConfig(GUILD, responder_role_id=RESPONDER_ROLE, timezone="Europe/Berlin")
        config.postmortem_template = template
        await uow.guilds.save(config)
        await uow.commit()


@pytest.fixture
async def played(uow_factory: UowFactory, clock: FakeClock) -> tuple[Services, int]:
    """The services over the database, after the known incident has run through them."""
    await configure(uow_factory)
    services = Services.build(uow_factory, clock)
    return services, await play(services, uow_factory, clock, GUILD)


async def test_draft_from_the_database_matches_the_golden_file(played):
    """Stored and reloaded, the incident renders exactly as it does over the in-memory fakes."""
    services, number = played
    data = await services.postmortem.draft(GUILD, IncidentRef(number=number))
    assert render_markdown(data) == GOLDEN.read_text(encoding="utf-8")


async def test_export_renders_the_stored_incident(played):
    """export_markdown reads the incident and config and gives the whole draft."""
    services, number = played
    markdown = await export_markdown(services, GUILD, number)
    assert markdown.startswith("# #1 API returns 502s\n")
    assert "| Time to resolve | resolved | 2026-03-02 00:40:00 | 1h 04m |" in markdown
    assert "typo, ignore" not in markdown  # deleted on the timeline


async def test_export_uses_the_template_stored_for_the_guild(played, uow_factory, tmp_path):
    """A template path saved in the guild's configuration replaces the default."""
    services, number = played
    template = tmp_path / "ours.md.j2"
    template.write_text("{{ data.label|md }}: {{ data.measures[4].duration }}\n")
    await configure(uow_factory, str(template))
    assert await export_markdown(services, GUILD, number) == "#1 API returns 502s: 1h 04m\n"
    template.write_text("{{ data.nothing }}")
    with pytest.raises(ValidationError, match="undefined value"):
        await export_markdown(services, GUILD, number)


async def test_export_of_a_missing_incident_is_not_found(played):
    """An incident number the guild never had is a NotFoundError, not a crash."""
    services, _number = played
    with pytest.raises(NotFoundError):
        await export_markdown(services, GUILD, 99)

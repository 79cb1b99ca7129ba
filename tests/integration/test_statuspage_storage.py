"""The status page stories on SQLite and PostgreSQL: the same outcomes as over the fakes."""

from __future__ import annotations

from bot.core.services import Services
from bot.core.statuspage import PublicStatus
from tests.statuspage_scenario import maintenance_story, play

GUILD = 1_180_000_000_000_000_014


async def test_maintenance_quiets_escalation_and_cancel_gives_it_back(uow_factory, clock) -> None:
    """Quiet alerts, the due-escalation sweep, and cancelling, through SQL repositories."""
    await maintenance_story(Services.build(uow_factory, clock), uow_factory, clock, GUILD)


async def test_the_outage_story_reads_back_the_same(uow_factory, clock) -> None:
    """Public incident, updates newest first and components as the fakes hold them."""
    services = Services.build(uow_factory, clock)
    await play(services, uow_factory, clock, GUILD)
    [public] = await services.statuspage.history(GUILD)
    assert public.status is PublicStatus.IDENTIFIED and len(public.updates) == 4
    assert public.updates[0].body == "Fix rolling out; errors are dropping."
    assert [c.name for c in await services.statuspage.components(GUILD)] == [
        "API",
        "Web app",
        "Email",
    ]

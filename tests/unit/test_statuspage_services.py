"""Status page use cases over the fakes: publishing rules, status mapping, components."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from bot.core.events import Topic
from bot.core.model import Status
from bot.core.services import IncidentRef, Services
from bot.core.statuspage import ComponentState, Impact, PublicStatus, parse_window
from tests.fakes import FakeClock, FakeDatabase
from tests.statuspage_scenario import ADMIN, ALICE, BOB, CAROL, play, t

GUILD = 42


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(t(9))


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def services(db: FakeDatabase, clock: FakeClock) -> Services:
    return Services.build(db.uow, clock)


async def test_the_story_publishes_what_was_typed_for_the_public_only(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """Publish + two public updates + a status change: updates newest first, statuses mapped."""
    outage = await play(services, db.uow, clock, GUILD)
    [public] = await services.statuspage.history(GUILD)
    assert public.title == "Elevated API errors" and public.impact is Impact.MAJOR
    assert public.status is PublicStatus.IDENTIFIED
    bodies = [(u.status.value, u.body) for u in public.updates]
    assert bodies == [
        ("identified", "Fix rolling out; errors are dropping."),
        ("identified", "The issue has been identified and a fix is being worked on."),
        ("investigating", "Some requests fail; we are on it."),
        ("investigating", "We are investigating this issue."),
    ]
    states = {c.name: c.state for c in await services.statuspage.components(GUILD)}
    assert states == {
        "API": ComponentState.PARTIAL_OUTAGE,
        "Web app": ComponentState.PARTIAL_OUTAGE,
        "Email": ComponentState.OPERATIONAL,
    }
    assert outage.number == 1


async def test_every_public_post_is_on_the_timeline_with_who_published_it(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """Publishing, each public update and the automatic status posts name their publisher."""
    outage = await play(services, db.uow, clock, GUILD)
    entries = await services.timeline.show(GUILD, IncidentRef(number=outage.number))
    public = [e.text for e in entries if "on the status page" in e.text]
    assert public == [
        "Public update (investigating) published on the status page by Alice Secretname: "
        "We are investigating this issue.",
        "Public update (investigating) published on the status page by Carol Privatename: "
        "Some requests fail; we are on it.",
        "Public update (identified) published on the status page by Opsroom (automatic): "
        "The issue has been identified and a fix is being worked on.",
        "Public update (identified) published on the status page by Alice Secretname: "
        "Fix rolling out; errors are dropping.",
    ]
    topics = [e.topic for e in db.events()]
    assert topics.count(Topic.PUBLIC_UPDATE) == 4


async def test_resolving_posts_resolved_and_gives_components_back(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """Resolve → a public "resolved" update; components it holds go back to operational,
    except one someone set by hand meanwhile; reopening takes them again."""
    outage = await play(services, db.uow, clock, GUILD)
    ref = IncidentRef(number=outage.number)
    await services.statuspage.set_component(
        GUILD, BOB, "Web app", ComponentState.DEGRADED_PERFORMANCE
    )
    await services.incidents.resolve(GUILD, BOB, ref)
    [public] = await services.statuspage.history(GUILD)
    assert public.status is PublicStatus.RESOLVED and public.resolved_at == clock.now()
    assert public.updates[0].body == "This incident has been resolved."
    states = {c.name: c.state for c in await services.statuspage.components(GUILD)}
    assert states["API"] is ComponentState.OPERATIONAL
    assert states["Web app"] is ComponentState.DEGRADED_PERFORMANCE
    await services.incidents.close(GUILD, BOB, ref)  # closed is still "resolved" outside
    [public] = await services.statuspage.history(GUILD)
    assert len(public.updates) == 5


async def test_only_commander_or_comms_publish(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """A responder who is neither commander nor comms is refused, even with Manage Server."""
    outage = await play(services, db.uow, clock, GUILD)
    ref = IncidentRef(number=outage.number)
    with pytest.raises(PermissionDeniedError, match="commander or comms"):
        await services.incidents.post_update(GUILD, BOB, ref, "hello", public=True)
    with pytest.raises(PermissionDeniedError, match="commander or comms"):
        await services.statuspage.publish(GUILD, ADMIN, ref, "x")
    [public] = await services.statuspage.history(GUILD)
    assert "hello" not in [u.body for u in public.updates]
    await services.incidents.post_update(GUILD, BOB, ref, "internal only")  # not public: fine


async def test_publish_needs_a_page_and_updates_need_a_published_incident(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """Clear refusals: no page; not published yet; unknown components; slug taken."""
    from tests.statuspage_scenario import page_with_components, setup_guild

    await setup_guild(db.uow, GUILD)
    incident = await services.incidents.declare(GUILD, ALICE, title="x", severity=_sev())
    ref = IncidentRef(number=incident.number)
    with pytest.raises(NotFoundError, match="no status page"):
        await services.statuspage.publish(GUILD, ALICE, ref, "Public")
    await page_with_components(services, GUILD)
    with pytest.raises(ConflictError, match="publish it first"):
        await services.incidents.post_update(GUILD, ALICE, ref, "x", public=True)
    with pytest.raises(ValidationError, match="Unknown component 'Nope'"):
        await services.statuspage.publish(GUILD, ALICE, ref, "Public", "API, Nope")
    with pytest.raises(ConflictError, match="taken"):
        await services.statuspage.enable(GUILD + 1, ADMIN, "acme")
    with pytest.raises(ValidationError, match="slug"):
        await services.statuspage.enable(GUILD, ADMIN, "Bad Slug!")
    with pytest.raises(PermissionDeniedError):
        await services.statuspage.enable(GUILD, ALICE, "other")


async def test_republishing_changes_title_impact_and_components(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """A second publish edits the public entry and moves the components it holds."""
    outage = await play(services, db.uow, clock, GUILD)
    ref = IncidentRef(number=outage.number)
    await services.statuspage.publish(GUILD, CAROL, ref, "API down", "API", Impact.CRITICAL)
    [public] = await services.statuspage.history(GUILD)
    assert (public.title, public.impact, public.components) == (
        "API down",
        Impact.CRITICAL,
        ["API"],
    )
    states = {c.name: c.state for c in await services.statuspage.components(GUILD)}
    assert states["API"] is ComponentState.MAJOR_OUTAGE
    assert states["Web app"] is ComponentState.OPERATIONAL


async def test_every_change_bumps_the_page_version(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """The web servers' cue: the version moves on publishing, updates and component edits."""
    outage = await play(services, db.uow, clock, GUILD)
    page = await services.statuspage.get(GUILD)
    assert page is not None
    before = page.version
    await services.incidents.set_status(
        GUILD, ALICE, IncidentRef(number=outage.number), Status.MONITORING
    )
    page = await services.statuspage.get(GUILD)
    assert page is not None and page.version == before + 1


async def test_maintenance_windows_parse_validate_and_cancel(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """Times in the future forms; backwards or past windows refused; cancel once."""
    outage = await play(services, db.uow, clock, GUILD)
    [window] = await services.statuspage.maintenances(GUILD)
    assert (window.starts_at, window.ends_at) == (
        t(2) + timedelta(days=1),
        t(3) + timedelta(days=1),
    )
    with pytest.raises(ValidationError, match="end after"):
        await services.statuspage.schedule_maintenance(GUILD, BOB, "x", "+2h", "+1h")
    with pytest.raises(PermissionDeniedError):
        from bot.core.model import Member, Person

        watcher = Member(Person(99, "w"))
        await services.statuspage.schedule_maintenance(GUILD, watcher, "x", "+1h", "+2h")
    await services.statuspage.cancel_maintenance(GUILD, BOB, outage.maintenance_id)
    assert await services.statuspage.maintenances(GUILD) == []
    with pytest.raises(ConflictError, match="already cancelled"):
        await services.statuspage.cancel_maintenance(GUILD, BOB, outage.maintenance_id)
    topics = [e.topic for e in db.events()]
    assert topics.count(Topic.MAINTENANCE_CHANGED) == 2


def test_parse_window_forms() -> None:
    """`+1h30m`, `HH:MM` (next occurrence), a local date-time, ISO with offset."""
    from zoneinfo import ZoneInfo

    now = t(10)
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_window("+1h30m", now=now, tz=berlin) == t(11, 30)
    assert parse_window("09:00", now=now, tz=berlin) == t(8) + timedelta(days=1)
    assert parse_window("2026-03-01 12:00", now=now, tz=berlin) == t(11)
    assert parse_window("2026-03-01T12:00+00:00", now=now, tz=berlin) == t(12)
    with pytest.raises(ValidationError):
        parse_window("soon", now=now, tz=berlin)


def _sev():  # noqa: ANN202
    from bot.core.model import Severity

    return Severity.SEV2


async def test_alerts_from_monitors_in_maintenance_are_quiet_and_never_escalate(
    services: Services, db: FakeDatabase, clock: FakeClock
) -> None:
    """Quiet in the window, escalating again after a cancel (the story's docstring)."""
    from tests.statuspage_scenario import maintenance_story

    await maintenance_story(services, db.uow, clock, GUILD)

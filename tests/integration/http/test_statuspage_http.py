"""The status page over HTTP on a real database: privacy, Statuspage JSON, Atom, 304s."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

import feedparser
import pytest

from bot.adapters.http.statuspage.serve import CACHE_KEY, ROUTES
from bot.core.model import Status
from bot.core.services import IncidentRef
from tests.integration.http.conftest import GUILD, Hooks
from tests.statuspage_scenario import ALICE, SECRETS, SLUG, play, t

BASE = f"/status/{SLUG}"

# Atlassian Statuspage's public v2 API: the fields every object carries.
PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
STATUS_FIELDS = {"indicator", "description"}
COMPONENT_FIELDS = {
    "id", "name", "status", "created_at", "updated_at", "position", "description",
    "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
INCIDENT_FIELDS = {
    "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at",
    "impact", "shortlink", "started_at", "page_id", "incident_updates", "components",
}  # fmt: skip
UPDATE_FIELDS = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
    "affected_components", "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
MAINTENANCE_FIELDS = INCIDENT_FIELDS | {"scheduled_for", "scheduled_until"}
INDICATORS = {"none", "minor", "major", "critical", "maintenance"}
COMPONENT_STATES = {
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance",
}  # fmt: skip
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}


@pytest.fixture
async def outage(hooks: Hooks) -> Hooks:
    """The story played on this server's database, at 10:30 on its day."""
    await play(hooks.services, hooks.uow_factory, hooks.clock, GUILD)
    hooks.clock.current = t(10, 30)
    hooks.app[CACHE_KEY].expire()
    return hooks


async def _get(hooks: Hooks, path: str, **headers: str) -> tuple[int, bytes, Mapping[str, str]]:
    """Status, body and (case-insensitive) headers of a GET."""
    response = await hooks.client.get(path, headers=headers)
    return response.status, await response.read(), response.headers


async def test_no_public_answer_contains_anything_private(outage: Hooks) -> None:
    """The privacy grep: internal title, summary, timeline, names, alerts, monitors, notes."""
    for suffix in ROUTES:
        status, body, _ = await _get(outage, BASE + suffix)
        assert status == 200, suffix
        text = body.decode()
        for secret in SECRETS:
            assert secret not in text, (suffix, secret)
        if suffix in ("", "/feed.atom", "/api/v2/summary.json", "/api/v2/incidents.json"):
            assert "Elevated API errors" in text, suffix  # the grep looks at real answers


def _fields(obj: dict, expected: set[str], what: str) -> None:
    assert expected <= obj.keys(), (what, expected - obj.keys())


async def test_summary_json_has_statuspage_fields_and_enums(outage: Hooks) -> None:
    """summary.json: page, status, components (with groups), incidents, maintenances."""
    _, body, headers = await _get(outage, BASE + "/api/v2/summary.json")
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert set(doc) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    _fields(doc["page"], PAGE_FIELDS, "page")
    assert doc["page"]["url"].endswith(BASE)
    _fields(doc["status"], STATUS_FIELDS, "status")
    assert doc["status"] == {"indicator": "major", "description": "Partial System Outage"}
    groups = [c for c in doc["components"] if c["group"]]
    assert [g["name"] for g in groups] == ["Core"] and len(groups[0]["components"]) == 2
    for component in doc["components"]:
        _fields(component, COMPONENT_FIELDS, "component")
        assert component["status"] in COMPONENT_STATES
    api = next(c for c in doc["components"] if c["name"] == "API")
    assert api["status"] == "partial_outage" and api["group_id"] == groups[0]["id"]
    [incident] = doc["incidents"]
    _fields(incident, INCIDENT_FIELDS, "incident")
    assert incident["status"] in INCIDENT_STATUSES and incident["impact"] in IMPACTS
    assert incident["name"] == "Elevated API errors" and incident["status"] == "identified"
    bodies = [u["body"] for u in incident["incident_updates"]]
    assert bodies[0] == "Fix rolling out; errors are dropping." and len(bodies) == 4
    for update in incident["incident_updates"]:
        _fields(update, UPDATE_FIELDS, "incident update")
        assert update["incident_id"] == incident["id"]
    [maintenance] = doc["scheduled_maintenances"]
    _fields(maintenance, MAINTENANCE_FIELDS, "maintenance")
    assert maintenance["status"] == "scheduled" and maintenance["impact"] == "maintenance"
    assert maintenance["scheduled_for"].startswith("2026-03-02T02:00:00")


async def test_the_other_json_documents(outage: Hooks) -> None:
    """incidents.json, scheduled-maintenances.json (and their filtered twins)."""
    _, body, _ = await _get(outage, BASE + "/api/v2/incidents.json")
    doc = json.loads(body)
    assert set(doc) == {"page", "incidents"} and len(doc["incidents"]) == 1
    _, body, _ = await _get(outage, BASE + "/api/v2/scheduled-maintenances.json")
    doc = json.loads(body)
    assert set(doc) == {"page", "scheduled_maintenances"}
    assert doc["scheduled_maintenances"][0]["status"] in MAINTENANCE_STATUSES
    await outage.services.incidents.resolve(GUILD, ALICE, IncidentRef(number=1))
    outage.app[CACHE_KEY].expire()
    _, body, _ = await _get(outage, BASE + "/api/v2/incidents/unresolved.json")
    assert json.loads(body)["incidents"] == []
    _, body, _ = await _get(outage, BASE + "/api/v2/status.json")
    assert json.loads(body)["status"]["indicator"] == "none"


async def test_maintenance_in_progress_shows_on_page_and_json(outage: Hooks) -> None:
    """When the window starts the page says so without any command (time moved only)."""
    outage.clock.current = t(2, 30) + timedelta(days=1)
    _, body, _ = await _get(outage, BASE + "/api/v2/summary.json")
    doc = json.loads(body)
    assert doc["scheduled_maintenances"][0]["status"] == "in_progress"
    email = next(c for c in doc["components"] if c["name"] == "Email")
    assert email["status"] == "under_maintenance"
    _, html, _ = await _get(outage, BASE)
    assert b"In progress" in html


async def test_the_feed_reads_as_atom_with_an_entry_per_public_update(outage: Hooks) -> None:
    """feedparser reads it as Atom 1.0 without complaint; newest update first."""
    _, body, headers = await _get(outage, BASE + "/feed.atom")
    assert headers["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Acme Status status"
    assert len(feed.entries) == 4
    assert feed.entries[0].title == "Elevated API errors: Identified"
    assert feed.entries[0].summary == "Fix rolling out; errors are dropping."
    assert len({e.id for e in feed.entries}) == 4


async def test_validators_give_304s_and_a_change_gives_a_new_etag(outage: Hooks) -> None:
    """If-None-Match and If-Modified-Since answer 304; a public update changes the ETag."""
    for suffix in ("", "/feed.atom", "/api/v2/summary.json"):
        status, _, headers = await _get(outage, BASE + suffix)
        etag, modified = headers["ETag"], headers["Last-Modified"]
        status, body, _ = await _get(outage, BASE + suffix, **{"If-None-Match": etag})
        assert (status, body) == (304, b""), suffix
        status, _, _ = await _get(outage, BASE + suffix, **{"If-Modified-Since": modified})
        assert status == 304, suffix
        status, _, _ = await _get(outage, BASE + suffix, **{"If-None-Match": '"other"'})
        assert status == 200, suffix
    _, _, before = await _get(outage, BASE)
    outage.clock.current = t(10, 40)
    await outage.services.incidents.post_update(
        GUILD, ALICE, IncidentRef(number=1), "All clear soon.", public=True
    )
    outage.app[CACHE_KEY].expire()
    status, body, after = await _get(outage, BASE, **{"If-None-Match": before["ETag"]})
    assert status == 200 and b"All clear soon." in body
    assert after["ETag"] != before["ETag"]


async def test_rendered_once_per_change_not_per_request(outage: Hooks) -> None:
    """Many requests, one rendering; a new version renders once more."""
    cache = outage.app[CACHE_KEY]
    await _get(outage, BASE)
    renders = cache.renders
    for _ in range(20):
        await _get(outage, BASE + "/api/v2/summary.json")
        cache.expire()  # even re-checking the version every time does not re-render
    assert cache.renders == renders
    await outage.services.incidents.set_status(
        GUILD, ALICE, IncidentRef(number=1), Status.MONITORING
    )
    cache.expire()
    await _get(outage, BASE)
    assert cache.renders == renders + 1


async def test_unknown_and_disabled_pages_are_404(outage: Hooks) -> None:
    """No such slug: 404 (HTML for the page, JSON for the API); disabling hides it."""
    status, body, _ = await _get(outage, "/status/nope")
    assert status == 404 and b"No such status page" in body
    status, body, _ = await _get(outage, "/status/nope/api/v2/summary.json")
    assert status == 404 and json.loads(body) == {"error": "no such status page"}
    from tests.statuspage_scenario import ADMIN

    await outage.services.statuspage.disable(GUILD, ADMIN)
    outage.app[CACHE_KEY].expire()
    status, _, _ = await _get(outage, BASE)
    assert status == 404


async def test_html_is_self_contained(outage: Hooks) -> None:
    """No script, nothing loaded from elsewhere (CSP says so too), a meta refresh."""
    _, body, headers = await _get(outage, BASE)
    html = body.decode()
    assert "<script" not in html and "http://" not in html.split("</head>")[0]
    assert '<meta http-equiv="refresh" content="60">' in html
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    for landmark in ("<header>", "<main", "<footer>", "<nav"):
        assert landmark in html


async def test_a_web_process_sees_what_another_process_published(outage: Hooks, make_hooks) -> None:
    """Scale-out: a second server (a `--role web` process: no commit signal reaches it) picks
    up a change written elsewhere by polling the page's version, within about a second."""
    import asyncio
    import time

    web = await make_hooks()
    status, body, _ = await _get(web, BASE)
    assert status == 200 and b"Elevated API errors" in body
    await outage.services.incidents.post_update(
        GUILD, ALICE, IncidentRef(number=1), "Seen by every web process.", public=True
    )
    deadline = time.monotonic() + 15
    while b"Seen by every web process." not in (await _get(web, BASE))[1]:
        assert time.monotonic() < deadline, "the web process never saw the change"
        await asyncio.sleep(0.1)


async def test_gzip_is_compressed_once_and_has_its_own_etag(outage: Hooks) -> None:
    """A client accepting gzip gets the stored compressed body, its own ETag, and 304s."""
    response = await outage.client.get(BASE, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"Elevated API errors" in await response.read()  # aiohttp inflates it
    etag = response.headers["ETag"]
    assert etag.endswith('-gz"') and response.headers["Vary"] == "Accept-Encoding"
    status, _, _ = await _get(outage, BASE, **{"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert status == 304
    identity = {"Accept-Encoding": "identity", "If-None-Match": etag}
    status, body, headers = await _get(outage, BASE, **identity)  # another encoding, tag
    assert status == 200 and "Content-Encoding" not in headers
    assert b"Elevated API errors" in body


async def test_a_database_outage_serves_the_last_rendering(outage: Hooks) -> None:
    """The page people check during an outage stays up when the database is the outage;
    without any rendering yet, the answer is a 503, never a 500."""
    from bot.adapters.http.statuspage.serve import StatusPageCache
    from bot.core.errors import StorageUnavailableError

    healthy = True

    class Flaky:
        def __init__(self) -> None:
            self.uow = outage.uow_factory()

        async def __aenter__(self):  # noqa: ANN204
            if not healthy:
                raise StorageUnavailableError("cannot reach the database")
            return await self.uow.__aenter__()

        async def __aexit__(self, *exc: object) -> None:
            await self.uow.__aexit__(*exc)

    cache = StatusPageCache(Flaky, outage.clock, "http://localhost:8080", check_seconds=0)
    first = await cache.get(SLUG)
    healthy = False
    assert await cache.get(SLUG) is first
    with pytest.raises(StorageUnavailableError):
        await cache.get("another-slug")

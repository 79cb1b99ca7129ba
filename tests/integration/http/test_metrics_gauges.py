"""`/metrics` beyond counters: webhook latency, open incidents and unacknowledged alerts read
from the database at each scrape, posts and edits apart, and the process collector."""

from __future__ import annotations

import re

from bot.adapters.db.gauges import open_counts
from bot.core.alerts import AlertSource
from bot.core.model import Member, Person, Severity
from bot.core.services import IncidentRef
from tests.integration.databases import Database
from tests.integration.http.conftest import GUILD, Hooks, fixture_bytes

FIRING = "alertmanager/alertmanager-0.25-firing.json"
ADMIN = Member(Person(7, "carol"), frozenset(), manage_guild=True)


def sample(text: str, name: str) -> float:
    """The value of one unlabelled sample in the exposition text."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def scrape(hooks: Hooks) -> str:
    response = await hooks.client.get("/metrics")
    assert response.status == 200
    return await response.text()


async def test_gauges_follow_the_database(hooks: Hooks, database: Database) -> None:
    """Two firing alerts, one acknowledged; two incidents, one resolved: 1 and 1."""
    hooks.metrics.count_with(lambda: open_counts(database.engine))
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    await hooks.client.post(f"/hooks/alertmanager/{token}", data=fixture_bytes(FIRING))
    text = await scrape(hooks)
    assert (
        sample(text, "opsroom_unacknowledged_alerts"),
        sample(text, "opsroom_open_incidents"),
    ) == (2, 0)
    first = (await hooks.alerts())[0]
    await hooks.services.alerts.acknowledge(GUILD, ADMIN, first.id)
    incidents = hooks.services.incidents
    await incidents.declare(GUILD, ADMIN, title="One", severity=Severity.SEV2)
    second = await incidents.declare(GUILD, ADMIN, title="Two", severity=Severity.SEV3)
    await incidents.resolve(GUILD, ADMIN, IncidentRef(number=second.number), None)
    text = await scrape(hooks)
    assert sample(text, "opsroom_unacknowledged_alerts") == 1
    assert sample(text, "opsroom_open_incidents") == 1


async def test_latency_histogram_posts_edits_and_process(hooks: Hooks) -> None:
    """A webhook answer is observed by source; posts and edits count apart; process_* exist."""
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    await hooks.client.post(f"/hooks/alertmanager/{token}", data=fixture_bytes(FIRING))
    hooks.metrics.discord_message_sent(2, edit=False)
    hooks.metrics.discord_message_sent(edit=True)
    text = await scrape(hooks)
    count = re.search(
        r'^opsroom_webhook_request_seconds_count\{source="alertmanager"\} (\S+)$', text, re.M
    )
    assert count and float(count.group(1)) == 1
    assert 'opsroom_webhook_request_seconds_bucket{le="20.0",source="alertmanager"} 1.0' in text
    assert sample(text, "opsroom_discord_posts_total") == 2
    assert sample(text, "opsroom_discord_edits_total") == 1
    assert sample(text, "opsroom_discord_messages_sent_total") == 3
    assert sample(text, "process_resident_memory_bytes") > 0

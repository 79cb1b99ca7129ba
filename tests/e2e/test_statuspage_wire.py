"""The status page's Discord side on the wire: maintenance as a guild scheduled event, and
public updates posted to an announcement channel and published, folded past the limit."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import feedparser
import pytest

from bot.adapters.discord import statuspage as relay_module
from tests.e2e.discord_double import DiscordDouble
from tests.e2e.discord_double.events import ANNOUNCEMENT, CROSSPOSTED
from tests.e2e.opsroom import Crew, OpsroomDatabase, OpsroomProcess, bot_posts, reply_text
from tests.integration.databases import postgres_url_or_skip, reset_public_schema

URL = "http://localhost:8080/status/acme"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[OpsroomDatabase]:
    db = await OpsroomDatabase(tmp_path / "opsroom.db").open()
    try:
        yield db
    finally:
        await db.close()


async def _page(crew: Crew, announcements: object | None = None) -> None:
    options = {"slug": "acme", "title": "Acme"}
    if announcements is not None:
        options["announcements"] = announcements
    done = await crew.run(crew.alice, "general", "statuspage enable", **options)
    assert "is live at" in reply_text(done), reply_text(done)
    double = crew.double
    done = await double.slash(
        double.guild,
        "general",
        crew.carol,
        "statuspage",
        group="component",
        subcommand="add",
        options={"name": "API"},
    )
    assert "added" in reply_text(done), reply_text(done)


async def test_maintenance_makes_and_cancel_removes_a_scheduled_event(
    discord_double: DiscordDouble, database: OpsroomDatabase
) -> None:
    """An external event with the window and the page's URL; cancelling deletes it."""
    double = discord_double
    async with double.running(database.bot()):
        crew = Crew.join(double)
        await crew.setup()
        await _page(crew)
        done = await crew.run(
            crew.carol,
            "general",
            "maintenance schedule",
            title="DB upgrade",
            start="+1h",
            end="+2h",
            monitors="db",
        )
        assert "Maintenance scheduled" in reply_text(done), reply_text(done)
        await double.wait_until(lambda: double.scheduled_events, 10.0, "the scheduled event")
        [event] = double.scheduled_events.values()
        assert event["name"] == "DB upgrade" and event["entity_type"] == 3
        assert event["entity_metadata"] == {"location": URL}
        start = datetime.fromisoformat(event["scheduled_start_time"])
        end = datetime.fromisoformat(event["scheduled_end_time"])
        assert end - start == timedelta(hours=1)
        assert abs(start - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)
        [window] = await database.services.statuspage.maintenances(double.guild.id)
        assert window.event_id == int(event["id"])

        done = await crew.run(crew.carol, "general", "maintenance cancel", id=window.id)
        assert "cancelled" in reply_text(done), reply_text(done)
        await double.wait_until(lambda: not double.scheduled_events, 10.0, "the event deleted")
    deletes = [r for r in double.requests if r.method == "DELETE" and "scheduled-events" in r.path]
    assert len(deletes) == 1


async def test_public_updates_are_announced_published_and_folded_past_the_limit(
    discord_double: DiscordDouble, database: OpsroomDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each public post is its own published message while the hourly budget lasts; past it,
    updates wait and go out as one folded, published message. Nothing private is posted."""
    double = discord_double
    monkeypatch.setattr(relay_module, "PUBLISH_BUDGET", 3)  # Discord's 10 an hour, shrunk
    bot = database.bot()
    bot.statuspage_relay.retry_seconds = 0.2
    announcements = double.world.add_channel(double.guild, "announcements", type=ANNOUNCEMENT)
    async with double.running(bot):
        crew = Crew.join(double)
        await crew.setup()
        await _page(crew, announcements)
        channel = await crew.declare("INTERNAL db-primary oom")
        done = await crew.run(crew.carol, channel, "incident publish", title="Slow API")
        assert "Published as **Slow API**" in reply_text(done), reply_text(done)
        for text in ("First public update.", "Second public update."):
            done = await crew.run(crew.carol, channel, "incident update", text=text, public=True)
            assert "on the status page" in reply_text(done), reply_text(done)

        def posts() -> list:
            return bot_posts(double, announcements)

        await double.wait_until(lambda: len(posts()) == 3, 10.0, "three announcements")
        await double.wait_until(
            lambda: all(m.flags & CROSSPOSTED for m in posts()), 10.0, "all published"
        )
        assert [m.content.split("\n")[0] for m in posts()] == ["**Slow API** — Investigating"] * 3
        assert "Second public update." in posts()[2].content and URL in posts()[2].content

        for text in ("Third public update.", "Fourth public update."):  # the budget is spent
            await crew.run(crew.carol, channel, "incident update", text=text, public=True)
        await double.wait_until(
            lambda: bot.statuspage_relay._waiting.get(double.guild.id), 10.0, "updates waiting"
        )
        assert len(posts()) == 3
        monkeypatch.setattr(relay_module, "PUBLISH_BUDGET", 10)  # as if the hour had passed
        await double.wait_until(lambda: len(posts()) == 4, 10.0, "the folded announcement")
        folded = posts()[3]
        assert folded.content.startswith("📣 2 status updates:")
        assert "Third public update." in folded.content
        assert "Fourth public update." in folded.content
        await double.wait_until(lambda: folded.flags & CROSSPOSTED, 10.0, "folded published")
    for message in posts():
        assert "INTERNAL" not in message.content and "carol" not in message.content
    crossposts = [r for r in double.requests if r.path.endswith("/crosspost")]
    assert len(crossposts) == 4 and all(r.status == 200 for r in crossposts)


async def test_done_when_discord_commands_keep_a_web_process_page_current(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """Scale-out on PostgreSQL: in Discord (the `--role bot` process) the commander publishes
    and posts two public updates; a `--role web` process serves the page, feed and JSON,
    current and private-safe; the bot process serves no page."""
    url = postgres_url_or_skip()
    await reset_public_schema(url)
    double = discord_double
    crew = Crew.join(double)
    bot = OpsroomProcess(double, tmp_path, url, role="bot")
    web = OpsroomProcess(double, tmp_path, url, role="web")
    try:
        await asyncio.gather(bot.start(), web.start())
        await asyncio.gather(bot.wait_ready(), web.wait_ready())
        await crew.setup()
        done = await crew.run(crew.alice, "general", "statuspage enable", slug="acme")
        assert "is live at" in reply_text(done), reply_text(done)
        channel = await crew.declare("INTERNAL db-primary oom")
        await crew.run(crew.carol, channel, "incident publish", title="Slow API", impact="major")
        for text in ("We are looking into it.", "A fix is rolling out."):
            done = await crew.run(crew.carol, channel, "incident update", text=text, public=True)
            assert "on the status page" in reply_text(done), reply_text(done)

        async with aiohttp.ClientSession() as http:
            page = f"{web.url}/status/acme"
            deadline = time.monotonic() + 15
            while True:  # the web process polls the page's version (about once a second)
                async with http.get(page) as response:
                    html = await response.text()
                if "A fix is rolling out." in html:
                    break
                assert time.monotonic() < deadline, "the web process never showed the update"
                await asyncio.sleep(0.2)
            async with http.get(f"{page}/api/v2/summary.json") as response:
                summary = json.loads(await response.read())
            async with http.get(f"{page}/feed.atom") as response:
                feed = feedparser.parse(await response.read())
            async with http.get(f"{bot.url}/status/acme") as response:
                assert response.status == 404  # the bot role serves no pages
        [incident] = summary["incidents"]
        assert incident["name"] == "Slow API" and incident["impact"] == "major"
        assert [u["body"] for u in incident["incident_updates"]][:2] == [
            "A fix is rolling out.",
            "We are looking into it.",
        ]
        assert summary["status"]["indicator"] == "major"
        assert not feed.bozo and feed.entries[0].summary == "A fix is rolling out."
        for answer in (html, json.dumps(summary), str(feed)):
            assert "INTERNAL" not in answer and "carol" not in answer
    finally:
        for process in (bot, web):
            await process.stop_quietly()

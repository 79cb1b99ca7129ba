"""The real Alertmanager delivering to the real `opsroom run` process, as `#alerts` on the
Discord double shows it.

Debian's prometheus-alertmanager runs on loopback (group wait and interval 1 s, repeat
interval 2 s, so it re-sends the group while the test watches) with a webhook receiver made by
`opsroom webhook create`; alerts are fired and resolved through its v2 API, as Prometheus
does. Nothing between Alertmanager and Discord is a test double except Discord itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.core.alerts import Alert
from tests.alertmanager import (
    alert_body,
    alertmanager_binary,
    post_alerts,
    running_alertmanager,
    webhook_notifications,
)
from tests.e2e.discord_double import MESSAGE_ROUTE, DiscordDouble, Message
from tests.e2e.discord_double.wire import RequestRecord
from tests.e2e.opsroom import Crew, OpsroomDatabase, OpsroomProcess, bot_posts
from tests.e2e.storm import pending_events

EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"
NO_MENTIONS = {"parse": []}
BUTTONS = ["Acknowledge", "Declare incident", "Attach to incident"]
DB, WEB = "InstanceDown · db-1:5432", "InstanceDown · web-1:9100"  # the cards' Monitor field
SEEN = re.compile(r"^(\d+) times, last <t:\d+:R>$")


def fields(embed: dict[str, Any]) -> dict[str, str]:
    """An embed's fields, name → value."""
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def buttons(components: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The buttons of a message (label → button), across its action rows."""
    return {
        b["label"]: b for row in components for b in row.get("components", []) if b["type"] == 2
    }


def cards(double: DiscordDouble) -> dict[str, Message]:
    """The bot's messages in #alerts by their card's Monitor field."""
    found = {}
    for message in bot_posts(double, "alerts"):
        footer = message.embeds[0].get("footer", {}).get("text", "") if message.embeds else ""
        assert footer.startswith("Alert A"), f"not an alert card: {message.content!r}"
        found[fields(message.embeds[0])["Monitor"]] = message
    return found


def alert_id(message: Message) -> int:
    """The alert a card shows, from its footer `Alert A12`."""
    return int(message.embeds[0]["footer"]["text"].removeprefix("Alert A"))


def is_red(colour: int) -> bool:
    return (colour >> 16) > max((colour >> 8) & 0xFF, colour & 0xFF)


def is_green(colour: int) -> bool:
    return ((colour >> 8) & 0xFF) > max(colour >> 16, colour & 0xFF)


def requests_in(double: DiscordDouble, route: str, channel_id: int) -> list[RequestRecord]:
    """The bot's requests on `route` in one channel."""
    return [r for r in double.requests_to(route) if r.params["channel_id"] == str(channel_id)]


async def metrics(process: OpsroomProcess) -> str:
    """The process's /metrics text."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.get(f"{process.url}/metrics") as response,
    ):
        assert response.status == 200
        return await response.text()


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples that carry these labels, in Prometheus text (0 if none)."""
    total = 0.0
    for found, value in re.findall(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', found))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


def received(text: str, outcome: str) -> float:
    """Alertmanager notifications stored with this outcome (new, repeat, resolved)."""
    return sample(text, "opsroom_alerts_received_total", source="alertmanager", outcome=outcome)


async def poll(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll an async condition every 0.1 s, failing after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {within}s for {what}")
        await asyncio.sleep(0.1)


async def test_alertmanager_groups_become_the_right_alerts_messages(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """Two alerts fired, one resolved, the group re-sent: two cards, one edited green, no pings."""
    alertmanager_binary()  # skips before anything starts when it is not installed
    double = discord_double
    crew = Crew.join(double)
    process = OpsroomProcess(double, tmp_path, tmp_path / "opsroom.db")
    database: OpsroomDatabase | None = None
    try:
        await process.start()
        await process.wait_ready()
        await crew.setup()
        channel = double.channel("alerts")
        url = await process.create_webhook(double.guild.id, "alertmanager", "prometheus")

        role, carol = crew.responders.id, crew.carol.id
        loud = f"Primary database is down @everyone <@&{role}> <@{carol}>"
        started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        labels = {
            DB: {"alertname": "InstanceDown", "instance": "db-1:5432", "severity": "critical"},
            WEB: {"alertname": "InstanceDown", "instance": "web-1:9100", "severity": "warning"},
        }
        annotations = {
            DB: {"summary": loud, "description": f"@here, <@&{role}>: fail over now"},
            WEB: {"summary": "web-1 does not answer"},
        }

        def alert(monitor: str, ends: datetime | None = None) -> dict[str, Any]:
            return alert_body(labels[monitor], annotations[monitor], started, ends=ends)

        async with running_alertmanager(tmp_path, url, repeat_interval="2s") as alertmanager:
            # Firing: one card each, as Discord received them, buttons and all, pinging nobody.
            await post_alerts(alertmanager, [alert(DB), alert(WEB)])
            await double.wait_until(
                lambda: len(bot_posts(double, channel)) >= 2, 20.0, "two alert cards"
            )
            posts = requests_in(double, MESSAGE_ROUTE, channel.id)
            assert [r.status for r in posts] == [200, 200]
            titles = {DB: loud, WEB: "web-1 does not answer"}
            for post in posts:
                assert post.json["allowed_mentions"] == NO_MENTIONS
                (embed,) = post.json["embeds"]
                monitor = fields(embed)["Monitor"]
                assert embed["title"] == titles[monitor]
                assert post.json["content"] == f"🔴 **firing** · {monitor}: {titles[monitor]}"
                assert fields(embed)["State"] == "🔴 Firing" and is_red(embed["color"])
                assert fields(embed)["Source"] == "alertmanager"
                assert embed["url"] == "http://prometheus.example/graph"
                shown = buttons(post.json["components"])
                assert list(shown) == BUTTONS
                assert not any(b.get("disabled") for b in shown.values())
            by_monitor = cards(double)
            assert set(by_monitor) == {DB, WEB}
            assert fields(by_monitor[DB].embeds[0])["Severity"] == "critical"
            assert "@here, <@&" in by_monitor[DB].embeds[0]["description"]
            assert loud in by_monitor[DB].content  # the text reached Discord as sent ...
            for message in by_monitor.values():  # ... and pinged nobody
                assert not message.pinged_everyone
                assert message.pinged_roles == [] and message.pinged_users == []

            # Alertmanager re-sends the group (repeat interval): the cards count, no new post.
            await poll(
                lambda: _at_least(process, "repeat", 2), 20.0, "Alertmanager to re-send the group"
            )
            await double.wait_until(
                lambda: all("Seen" in fields(m.embeds[0]) for m in cards(double).values()),
                10.0,
                "both cards to show the repeats",
            )
            assert len(bot_posts(double, channel)) == 2

            # db-1 resolved (endsAt in the past): a partly resolved group edits its card.
            mark = len(requests_in(double, EDIT_ROUTE, channel.id))
            ended = started + timedelta(minutes=7)
            await post_alerts(alertmanager, [alert(DB, ends=ended)])
            await double.wait_until(
                lambda: fields(cards(double)[DB].embeds[0])["State"].startswith("✅"),
                20.0,
                "the db-1 card shown resolved",
            )
            resolved = cards(double)[DB]
            assert fields(resolved.embeds[0])["State"] == "✅ Resolved after 7m"
            assert is_green(resolved.embeds[0]["color"])
            assert resolved.content.startswith("✅ **resolved** · ")
            assert buttons(resolved.components)["Acknowledge"].get("disabled") is True
            assert not resolved.pinged_everyone and resolved.pinged_roles == []
            edited = {r.params["message_id"] for r in requests_in(double, EDIT_ROUTE, channel.id)}
            assert str(resolved.id) in edited
            firing = cards(double)[WEB]
            assert fields(firing.embeds[0])["State"] == "🔴 Firing" and is_red(
                firing.embeds[0]["color"]
            )
            assert len(bot_posts(double, channel)) == 2  # edited in place, nothing new

            # More re-sends of the group (web-1 still firing): still only two messages.
            repeats = received(await metrics(process), "repeat")
            await poll(lambda: _at_least(process, "repeat", repeats + 2), 20.0, "two more re-sends")
            sent, failed = await webhook_notifications(alertmanager)
            assert sent >= 4 and failed == 0, (sent, failed)  # first, repeats, resolved, repeats
            await poll(lambda: _answered(process, sent), 10.0, "Opsroom to answer every one")
            assert len(requests_in(double, EDIT_ROUTE, channel.id)) > mark

        # Alertmanager stopped: once the relay is idle, #alerts shows exactly what is stored.
        database = await OpsroomDatabase(tmp_path / "opsroom.db").open()
        uow_factory = database.uow_factory
        await poll(lambda: _drained(uow_factory), 20.0, "the relay to finish")
        assert database.services is not None
        final = cards(double)
        stored: dict[str, Alert] = {
            monitor: await database.services.alerts.get(double.guild.id, alert_id(message))
            for monitor, message in final.items()
        }
        assert stored[DB].state.value == "resolved" and stored[WEB].state.value == "firing"
        assert stored[WEB].count >= 4  # the first delivery and at least three re-sends
        seen = SEEN.match(fields(final[WEB].embeds[0])["Seen"])
        assert seen and int(seen.group(1)) == stored[WEB].count
        assert fields(final[DB].embeds[0])["State"] == "✅ Resolved after 7m"
        assert fields(final[WEB].embeds[0])["State"] == "🔴 Firing"

        assert len(bot_posts(double, channel)) == 2
        assert len(requests_in(double, MESSAGE_ROUTE, channel.id)) == 2
        assert {m.id for m in bot_posts(double, channel)} == {int(r.response["id"]) for r in posts}
        for edit in requests_in(double, EDIT_ROUTE, channel.id):
            assert edit.status == 200 and edit.json["allowed_mentions"] == NO_MENTIONS
        for message in bot_posts(double, channel):
            assert not message.pinged_everyone
            assert message.pinged_roles == [] and message.pinged_users == []
        text = await metrics(process)
        assert received(text, "new") == 2 and received(text, "resolved") == 1
        assert sample(text, "opsroom_discord_rate_limited_total") == 0
        answered = sample(text, "opsroom_webhook_requests_total", source="alertmanager")
        assert sample(text, "opsroom_webhook_requests_total", status="202") == answered
        assert double.limiter.provoked_429s == 0 and double.limiter.injected_429s == 0
        assert await process.terminate() == 0
        assert "Traceback" not in process.stderr, process.stderr
    finally:
        await process.stop_quietly()
        if database is not None:
            await database.close()


async def _at_least(process: OpsroomProcess, outcome: str, count: float) -> bool:
    """Whether the process has stored at least `count` notifications with this outcome."""
    return received(await metrics(process), outcome) >= count


async def _answered(process: OpsroomProcess, count: int) -> bool:
    """Whether the process has answered at least `count` Alertmanager requests with 202."""
    text = await metrics(process)
    return (
        sample(text, "opsroom_webhook_requests_total", source="alertmanager", status="202") >= count
    )


async def _drained(uow_factory: Any) -> bool:
    """Whether no outbox event waits for delivery to Discord."""
    return await pending_events(uow_factory) == 0

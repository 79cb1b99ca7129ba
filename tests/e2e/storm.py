"""Alert storms on the wire: Alertmanager payloads, the in-process webhook server, and what
`#alerts` shows — counted per message, so an alert shown twice cannot hide.

An alert is "shown" by a message when the message is its card (footer `Alert A12`) or a
digest that lists it (a line of the embed, or of the attached complete list).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bot.adapters.db.tables import alerts
from bot.adapters.http.ratelimit import TokenBucketLimiter
from bot.adapters.http.server import build_web_app
from bot.adapters.metrics import Metrics
from bot.core.ports import UnitOfWorkFactory
from bot.core.services import Services
from tests.e2e.discord_double import DiscordDouble, Message
from tests.e2e.opsroom import bot_posts

STARTS = "2026-03-01T12:00:00Z"
LABEL = re.compile(r"`(A\d+)`|^(A\d+) \|", re.MULTILINE)


def group(
    monitor: int, status: str = "firing", *, size: int = 5, starts: str = STARTS
) -> dict[str, Any]:
    """One Alertmanager v4 POST: a group of `size` alerts of one monitor."""
    items = []
    for n in range(size):
        items.append(
            {
                "status": status,
                "labels": {"alertname": f"DiskFull{monitor}", "instance": f"node-{n}:9100"},
                "annotations": {"summary": f"storm m{monitor} n{n} @everyone"},
                "startsAt": starts,
                "endsAt": "2026-03-01T12:05:00Z"
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus.example.org/graph?g0.expr=disk{monitor}",
                "fingerprint": fingerprint(monitor, n),
            }
        )
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="DiskFull{monitor}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "opsroom",
        "groupLabels": {"alertname": f"DiskFull{monitor}"},
        "commonLabels": {"alertname": f"DiskFull{monitor}"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "alerts": items,
    }


def resolved(payload: dict[str, Any]) -> dict[str, Any]:
    """The same Alertmanager group, resolved."""
    ended = "2026-03-01T12:05:00Z"
    items = [{**a, "status": "resolved", "endsAt": ended} for a in payload["alerts"]]
    return {**payload, "status": "resolved", "alerts": items}


def fingerprint(monitor: int, n: int) -> str:
    """The Alertmanager fingerprint of alert `n` of `monitor` in `group`."""
    return f"{monitor:04x}{n:012x}"


def message_states(message: Message) -> dict[str, str]:
    """Alert label (`A12`) → how one message shows it: a card's State field, or the alert's
    line in a digest (its embed, or the attached complete list)."""
    found: dict[str, str] = {}
    for embed in message.embeds:
        footer = (embed.get("footer") or {}).get("text", "")
        if footer.startswith("Alert A"):  # a card
            state = next(f["value"] for f in embed["fields"] if f["name"] == "State")
            found[footer.removeprefix("Alert ")] = state
        elif footer[:1].isdigit():  # a digest: "N alerts …"
            for line in (embed.get("description") or "").splitlines():
                match = LABEL.search(line)
                if match and match.group(1):
                    found[match.group(1)] = line
    for _, data in message.files[-1:]:  # the latest complete list
        for line in data.decode().splitlines():
            match = LABEL.search(line)
            if match and match.group(2):
                found.setdefault(match.group(2), line)
    return found


def shown(message: Message) -> set[str]:
    """Labels of the alerts one message shows."""
    return set(message_states(message))


def shown_counts(double: DiscordDouble) -> Counter[str]:
    """How many messages in #alerts show each alert (exactly once is right)."""
    counts: Counter[str] = Counter()
    for message in bot_posts(double, double.channel("alerts")):
        counts.update(shown(message))
    return counts


def states(double: DiscordDouble) -> dict[str, str]:
    """Alert label → how #alerts shows its state, over every message."""
    found: dict[str, str] = {}
    for message in bot_posts(double, double.channel("alerts")):
        found.update(message_states(message))
    return found


def all_resolved(double: DiscordDouble, labels: Iterable[str]) -> bool:
    """Every one of these alerts is shown, and shown resolved."""
    shown_now = states(double)
    return all("resolved" in shown_now.get(label, "").casefold() for label in labels)


def assert_each_shown_once(double: DiscordDouble, labels: Iterable[str]) -> None:
    """Every one of these alerts is in #alerts exactly once, and nothing else is."""
    counts = shown_counts(double)
    expected = set(labels)
    twice = {label: n for label, n in counts.items() if n > 1}
    assert not twice, f"shown more than once: {twice}"
    assert set(counts) == expected, (
        f"missing {sorted(expected - set(counts))}, unexpected {sorted(set(counts) - expected)}"
    )


async def stored_alerts(uow_factory: UnitOfWorkFactory, guild_id: int) -> dict[str, str]:
    """`A<id>` → Alertmanager fingerprint (stream key) of every alert stored for the guild."""
    async with uow_factory() as uow:
        result = await uow.session.execute(  # type: ignore[attr-defined]
            select(alerts.c.id, alerts.c.stream_key).where(alerts.c.guild_id == guild_id)
        )
        return {f"A{row.id}": row.stream_key for row in result}


async def pending_events(uow_factory: UnitOfWorkFactory) -> int:
    """Outbox events not yet delivered."""
    async with uow_factory() as uow:
        return len(await uow.outbox.pending(10_000))


@contextlib.asynccontextmanager
async def webhook_server(
    services: Services, uow_factory: UnitOfWorkFactory, metrics: Metrics | None = None
) -> AsyncIterator[str]:
    """The real webhook server on a loopback port, in process; yields its base URL."""
    app = build_web_app(
        services=services,
        uow_factory=uow_factory,
        metrics=metrics or Metrics(),
        readiness_checks={},
        rate_limiter=TokenBucketLimiter(rate=1000.0, burst=1000),  # the storm is the point
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def post_groups(
    sends: list[tuple[str, dict[str, Any]]],
    token: str,
    *,
    gap: float = 0.0,
    retry_5xx: bool = False,
    attempts: int = 40,
) -> list[int]:
    """POST every (base URL, payload), the n-th after n × `gap` seconds, as a storm arrives;
    the final status of each. With `retry_5xx` a 5xx answer is sent again after a short
    pause, as Alertmanager does."""
    async with aiohttp.ClientSession() as http:

        async def one(index: int, url: str, payload: dict[str, Any]) -> int:
            await asyncio.sleep(index * gap)
            status = 0
            for attempt in range(attempts):
                async with http.post(f"{url}/hooks/alertmanager/{token}", json=payload) as r:
                    status = r.status
                if not (retry_5xx and status >= 500):
                    break
                await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
            return status

        return list(await asyncio.gather(*(one(i, *send) for i, send in enumerate(sends))))

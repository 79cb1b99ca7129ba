"""Prometheus metrics, on a registry of their own (tests stay isolated), and `GET /metrics`.

Every adapter that counts something gets the one `Metrics` object from the composition root
and calls its methods; nothing touches prometheus_client's global registry. Label values
are bounded sets (sources, outcomes, status codes), so series cannot grow without limit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)
# Webhook answers take milliseconds; the writer's batch wait and a slow database, seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)
Counts = Callable[[], Awaitable[tuple[int, int]]]


class Metrics:
    """The counters and gauges Opsroom exports, named `opsroom_*`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)  # CPU, memory, open files, start time
        PlatformCollector(registry=self.registry)  # the Python version
        self._counts: Counts | None = None
        self.webhook_seconds = Histogram(
            "opsroom_webhook_request_seconds",
            "Time to answer a webhook request, by source.",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.open_incidents = Gauge(
            "opsroom_open_incidents",
            "Incidents not resolved or closed, in every guild (read at each scrape).",
            registry=self.registry,
        )
        self.unacknowledged_alerts = Gauge(
            "opsroom_unacknowledged_alerts",
            "Firing alerts nobody acknowledged, in every guild (read at each scrape).",
            registry=self.registry,
        )
        self.discord_posts = Counter(
            "opsroom_discord_posts",
            "Messages posted in Discord (cards, digests, timeline lines, replies' followups).",
            registry=self.registry,
        )
        self.discord_edits = Counter(
            "opsroom_discord_edits",
            "Messages edited in Discord (cards kept current in place).",
            registry=self.registry,
        )
        self.alerts_received = Counter(
            "opsroom_alerts_received",
            "Alert notifications stored, by source and what they did (new, repeat, ...).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.webhook_requests = Counter(
            "opsroom_webhook_requests",
            "Webhook HTTP requests answered, by source and status code.",
            ["source", "status"],
            registry=self.registry,
        )
        self.ingest_queue_depth = Gauge(
            "opsroom_ingest_queue_depth",
            "Webhook requests waiting for the database writer.",
            registry=self.registry,
        )
        self.ingest_batch_size = Histogram(
            "opsroom_ingest_batch_requests",
            "Webhook requests committed together in one transaction.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200),
            registry=self.registry,
        )
        self.relay_queue_depth = Gauge(
            "opsroom_relay_queue_depth",
            "Events waiting to be delivered to Discord (set by the relay).",
            registry=self.registry,
        )
        self.discord_messages = Counter(
            "opsroom_discord_messages_sent",
            "Messages posted or edited in Discord.",
            registry=self.registry,
        )
        self.discord_rate_limited = Counter(
            "opsroom_discord_rate_limited",
            "HTTP 429 answers seen from Discord.",
            registry=self.registry,
        )
        self.escalations = Counter(
            "opsroom_escalations",
            "Escalation pings sent, by target (oncall or escalation).",
            ["target"],
            registry=self.registry,
        )

    def alert_received(self, source: str, outcome: str, count: int = 1) -> None:
        """Count stored notifications (after commit, so the number means durable)."""
        self.alerts_received.labels(source=source, outcome=outcome).inc(count)

    def webhook_request(self, source: str, status: int, seconds: float | None = None) -> None:
        """Count one answered webhook request, and how long it took to answer."""
        self.webhook_requests.labels(source=source, status=str(status)).inc()
        if seconds is not None:
            self.webhook_seconds.labels(source=source).observe(seconds)

    def set_ingest_queue_depth(self, depth: int) -> None:
        """How many requests wait for the writer right now."""
        self.ingest_queue_depth.set(depth)

    def ingest_batch(self, requests: int) -> None:
        """One writer transaction committed this many requests."""
        self.ingest_batch_size.observe(requests)

    def set_relay_queue_depth(self, depth: int) -> None:
        """How many outbox events wait for Discord right now."""
        self.relay_queue_depth.set(depth)

    def discord_message_sent(self, count: int = 1, *, edit: bool | None = None) -> None:
        """Messages got into Discord; `edit` says whether they were edits or new posts."""
        self.discord_messages.inc(count)
        if edit is not None:
            (self.discord_edits if edit else self.discord_posts).inc(count)

    def count_with(self, counts: Counts) -> None:
        """Read (open incidents, unacknowledged alerts) with `counts` at every scrape."""
        self._counts = counts

    async def refresh(self) -> None:
        """Update the gauges read from the database; a failed read keeps the last values."""
        if self._counts is None:
            return
        try:
            incidents, alerts = await self._counts()
        except Exception as exc:  # the scrape still answers: /readyz reports the database
            log.warning("metrics: cannot read open incidents and alerts: %s", exc)
            return
        self.open_incidents.set(incidents)
        self.unacknowledged_alerts.set(alerts)

    def discord_429(self) -> None:
        """Discord answered 429 Too Many Requests."""
        self.discord_rate_limited.inc()

    def escalation(self, target: str) -> None:
        """An escalation ping went out to `target`."""
        self.escalations.labels(target=target).inc()

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


METRICS_KEY = web.AppKey("metrics", Metrics)


async def metrics_view(request: web.Request) -> web.Response:
    """`GET /metrics` in Prometheus text format."""
    metrics = request.app[METRICS_KEY]
    await metrics.refresh()
    body = metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics_route(app: web.Application, metrics: Metrics) -> None:
    """Mount `/metrics` for this Metrics object."""
    app[METRICS_KEY] = metrics
    app.router.add_get("/metrics", metrics_view)

"""Prometheus metrics, on a registry of their own (tests stay isolated), and `GET /metrics`.

Every adapter that counts something gets the one `Metrics` object from the composition root
and calls its methods; nothing touches prometheus_client's global registry. Label values
are bounded sets (sources, outcomes, status codes), so series cannot grow without limit.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """The counters and gauges Opsroom exports, named `opsroom_*`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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

    def webhook_request(self, source: str, status: int) -> None:
        """Count one answered webhook request."""
        self.webhook_requests.labels(source=source, status=str(status)).inc()

    def set_ingest_queue_depth(self, depth: int) -> None:
        """How many requests wait for the writer right now."""
        self.ingest_queue_depth.set(depth)

    def ingest_batch(self, requests: int) -> None:
        """One writer transaction committed this many requests."""
        self.ingest_batch_size.observe(requests)

    def set_relay_queue_depth(self, depth: int) -> None:
        """How many outbox events wait for Discord right now."""
        self.relay_queue_depth.set(depth)

    def discord_message_sent(self, count: int = 1) -> None:
        """Messages the relay got into Discord."""
        self.discord_messages.inc(count)

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
    body = request.app[METRICS_KEY].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics_route(app: web.Application, metrics: Metrics) -> None:
    """Mount `/metrics` for this Metrics object."""
    app[METRICS_KEY] = metrics
    app.router.add_get("/metrics", metrics_view)

"""A real Prometheus Alertmanager (Debian's package) delivering to the webhook server.

The first test starts alertmanager on loopback with a one-second group wait and interval and a
webhook receiver pointing at the test server, fires two alerts through its v2 API, resolves
them one at a time, and checks what was stored: each alert once, firing, then resolved.
The second puts a real Prometheus in front, with a rule that fires and resolves, and routes
to the receivers exactly as docs/monitors.md gives them (webhook, Bearer webhook, pagerduty).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.http.parsers.alertmanager import fingerprint
from bot.adapters.http.parsers.common import parse_time
from bot.core.alerts import Alert, AlertSource, AlertState
from tests.alertmanager import alert_body, post_alerts, running_alertmanager
from tests.integration.http.conftest import GUILD, Hooks
from tests.prometheus import running_prometheus

WAIT_SECONDS = 20.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it holds, failing after WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {WAIT_SECONDS:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def by_instance(stored: list[Alert]) -> dict[str, Alert]:
    """Stored alerts keyed by their instance label."""
    return {alert.details.get("instance", ""): alert for alert in stored}


async def test_real_alertmanager_firing_then_resolved(hooks: Hooks, tmp_path: Path) -> None:
    """Two alerts fire, one resolves (partly resolved group), then the other: stored once each."""
    _, token = await hooks.webhook(AlertSource.ALERTMANAGER)
    url = str(hooks.client.make_url(f"/hooks/alertmanager/{token}"))
    started = datetime.now(UTC).replace(microsecond=123456) - timedelta(seconds=5)
    labels = {
        name: {"alertname": "OpsroomRealTest", "instance": name, "severity": "critical"}
        for name in ("a", "b")
    }

    def alert(name: str, *, ended: datetime | None = None) -> dict:
        return alert_body(labels[name], {"summary": f"{name} is on fire"}, started, ends=ended)

    async with running_alertmanager(tmp_path, url) as base:
        await post_alerts(base, [alert("a"), alert("b")])

        async def firing() -> bool:
            stored = by_instance(await hooks.alerts())
            return len(stored) == 2 and all(a.is_open for a in stored.values())

        await eventually(firing, "both alerts to arrive firing")
        await post_alerts(base, [alert("a", ended=datetime.now(UTC) - timedelta(seconds=1))])

        async def a_resolved() -> bool:
            stored = by_instance(await hooks.alerts())
            return stored["a"].state is AlertState.RESOLVED

        await eventually(a_resolved, "the partly resolved group")
        assert by_instance(await hooks.alerts())["b"].is_open
        await post_alerts(base, [alert("b", ended=datetime.now(UTC) - timedelta(seconds=1))])

        async def all_resolved() -> bool:
            return all(a.state is AlertState.RESOLVED for a in await hooks.alerts())

        await eventually(all_resolved, "the resolved group")

    stored = await hooks.alerts()
    assert len(stored) == 2  # every delivery of the same episode landed on the same alert
    episode = parse_time(alert("a")["startsAt"], "startsAt")[1]
    for name, found in by_instance(stored).items():
        assert found.stream_key == fingerprint(labels[name])  # our FNV-1a agrees with theirs
        assert found.episode_key == episode
        assert found.title == f"{name} is on fire"
        assert found.resolved_at is not None and found.resolved_at >= found.started_at


RULES = """\
groups:
  - name: opsroom-demo
    rules:
      - alert: OpsroomDemoBroken
        expr: opsroom_demo_broken > 0
        labels:
          severity: critical
        annotations:
          summary: The demo service is broken
"""


def documented_receiver(hooks: Hooks, name: str, token: str, *, rename: str = "") -> str:
    """One receiver exactly as docs/monitors.md gives it, for this server and token (and,
    when two documented receivers share a name, under another one)."""
    from tests.integration.http.test_documented_senders import snippet

    block = snippet(name, hooks, token).removeprefix("receivers:\n")
    return block.replace("- name: opsroom\n", f"- name: {rename}\n") if rename else block


async def test_real_prometheus_rule_through_webhook_and_pagerduty_receivers(
    hooks: Hooks, tmp_path: Path
) -> None:
    """A Prometheus rule fires and resolves; Alertmanager routes the group to the documented
    webhook, Bearer-webhook and pagerduty receivers; each stores one alert that resolves, and
    the pagerduty one's title has lost Alertmanager's "[FIRING:1]"."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    broken = {"value": 1}

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=f"opsroom_demo_broken {broken['value']}\n")

    target = web.Application()
    target.router.add_get("/metrics", metrics)
    demo = TestServer(target, host="127.0.0.1")
    await demo.start_server()
    instance = f"127.0.0.1:{demo.port}"
    _, by_path = await hooks.webhook(AlertSource.ALERTMANAGER)
    _, bearer = await hooks.webhook(AlertSource.ALERTMANAGER, guild_id=GUILD + 1)
    _, events = await hooks.webhook(AlertSource.EVENTS)
    receivers = "receivers:\n" + "".join(
        [
            documented_receiver(hooks, "alertmanager-webhook", by_path),
            documented_receiver(
                hooks, "alertmanager-webhook-bearer", bearer, rename="opsroom-bearer"
            ),
            documented_receiver(hooks, "alertmanager-pagerduty", events),
        ]
    )
    routes = "".join(
        f"    - receiver: {name}\n      continue: true\n"
        for name in ("opsroom", "opsroom-bearer", "opsroom-pagerduty")
    )
    config = (
        "route:\n  receiver: opsroom\n  group_by: [alertname]\n  group_wait: 1s\n"
        f"  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n{routes}{receivers}"
    )
    try:
        async with (
            running_alertmanager(tmp_path, "", config_text=config) as alertmanager,
            running_prometheus(
                tmp_path,
                instance,
                alertmanager.removeprefix("http://"),
                RULES,
            ),
        ):

            async def stored(state: AlertState) -> bool:
                found = await hooks.alerts()
                return len(found) == 3 and all(a.state is state for a in found)

            await eventually(lambda: stored(AlertState.FIRING), "3 firing alerts")
            broken["value"] = 0
            await eventually(lambda: stored(AlertState.RESOLVED), "all 3 resolved")
    finally:
        await demo.close()
    found = {(a.guild_id, a.source): a for a in await hooks.alerts()}
    webhook = found[(GUILD, AlertSource.ALERTMANAGER)]
    via_bearer = found[(GUILD + 1, AlertSource.ALERTMANAGER)]
    assert webhook.title == via_bearer.title == "The demo service is broken"
    paged = found[(GUILD, AlertSource.EVENTS)]  # "[FIRING:1] OpsroomDemoBroken (… critical)"
    assert paged.title == f"OpsroomDemoBroken ({instance} demo critical)"
    assert (paged.monitor, paged.severity) == ("Alertmanager", "error")

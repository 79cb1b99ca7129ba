"""docs/monitors.md, replayed: each snippet marked `<!-- replay: name -->` is sent to a real
webhook server as its monitor would send it (the shell ones run in bash with real curl), and
the stored alerts are checked. A doc edit that breaks a sender fails here."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import shlex
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.alerts import AlertSource, AlertState
from tests.integration.http.conftest import Hooks, fixture_bytes, fixture_json
from tests.paths import REPOSITORY

DOC = REPOSITORY / "docs" / "monitors.md"
PUBLIC = "https://opsroom.example.com"
JSON = {"Content-Type": "application/json"}
_BLOCK = re.compile(r"<!-- replay: (\S+) -->\n```[a-z]*\n(.*?)```", re.S)


def snippets() -> dict[str, str]:
    """Every replayed snippet of the doc, by name."""
    return dict(_BLOCK.findall(DOC.read_text(encoding="utf-8")))


def snippet(name: str, hooks: Hooks, token: str) -> str:
    """A snippet with the placeholders filled in for this test server."""
    base = str(hooks.client.make_url("")).rstrip("/")
    return snippets()[name].replace(PUBLIC, base).replace("YOUR_TOKEN", token)


def local(hooks: Hooks, url: str) -> str:
    """A documented URL as a path on the test server."""
    return url.removeprefix(str(hooks.client.make_url("")).rstrip("/"))


def test_every_section_has_its_snippets() -> None:
    """The doc keeps one replayed snippet per way in (so none is left untested)."""
    assert set(snippets()) == {
        "uptimerobot-post-value",
        "alertmanager-webhook",
        "alertmanager-webhook-bearer",
        "alertmanager-pagerduty",
        "grafana-cli",
        "grafana-cli-headers",
        "gatus",
        "healthchecks-down",
        "healthchecks-up",
        "netdata",
        "zabbix-url",
        "curl-trigger",
        "curl-resolve",
    }


async def test_uptimerobot_post_value(hooks: Hooks) -> None:
    """The documented JSON, with UptimeRobot's variables substituted, down then up."""
    hooks.clock.current = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    _, token = await hooks.webhook(AlertSource.UPTIMEROBOT)
    template = snippet("uptimerobot-post-value", hooks, token)
    url = f"/hooks/uptimerobot/{token}?"
    down = {
        "monitorID": "793105130",
        "monitorURL": "https://example.social",
        "monitorFriendlyName": "web",
        "alertType": "1",
        "alertTypeFriendlyName": "Down",
        "alertDetails": "HTTP 502 - Bad Gateway",
        "alertDateTime": "1764877200",
    }
    up = {**down, "alertType": "2", "alertTypeFriendlyName": "Up", "alertDuration": "120"}
    for values in (down, up):
        body = template
        for name, value in values.items():
            body = body.replace(f"*{name}*", value)
        response = await hooks.client.post(url, data=body, headers=JSON)
        assert response.status == 202
    (alert,) = await hooks.alerts()
    assert (alert.title, alert.state) == ("web: HTTP 502 - Bad Gateway", AlertState.RESOLVED)


def grafana_signature(secret: str, body: bytes, timestamp: str | None) -> str:
    """Grafana's hex HMAC-SHA256 of the body, or of "timestamp:body"."""
    message = body if timestamp is None else f"{timestamp}:".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The CLI sets up logging for the process (root at INFO, its own handler): undo that,
    so later tests do not log, e.g., aiohttp's access lines with tokens in them."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["grafana-cli", "grafana-cli-headers"])
async def test_grafana_cli_lines(
    hooks: Hooks,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    logging_restored: None,
    name: str,
) -> None:
    """The documented `opsroom webhook create` lines, run through the real CLI on the test
    database, make webhooks that accept Grafana's signed notifications."""
    from bot.cli import main

    monkeypatch.setenv("OPSROOM_DATABASE_URL", database_url)
    monkeypatch.setenv("OPSROOM_PUBLIC_URL", PUBLIC)
    line = snippets()[name].replace("\\\n", " ").replace("<server id>", "1")
    argv = shlex.split(line)[1:]
    assert await asyncio.to_thread(main, argv) == 0
    url = capsys.readouterr().out.strip()
    body = fixture_bytes("alertmanager/alertmanager-0.25-firing.json")
    timestamp = "1764877200" if "--timestamp-header" in argv else None
    headers = {
        **JSON,
        "X-Grafana-Alerting-Signature": grafana_signature("the secret", body, timestamp),
    }
    if timestamp:
        headers["X-Grafana-Alerting-Timestamp"] = timestamp
    response = await hooks.client.post(
        local(hooks, url.replace(PUBLIC, "")), data=body, headers=headers
    )
    assert response.status == 202
    unsigned = await hooks.client.post(
        local(hooks, url.replace(PUBLIC, "")), data=body, headers=JSON
    )
    assert unsigned.status == 401


async def test_gatus_custom_provider(hooks: Hooks) -> None:
    """Gatus's custom provider body, with its placeholders filled as Gatus fills them."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    config = snippet("gatus", hooks, token)
    url = re.search(r'url: "([^"]+)"', config).group(1)
    body = re.search(r"body: \|\n(.*?)\n    placeholders:", config, re.S).group(1)
    filled = {
        "[ENDPOINT_GROUP]": "core",
        "[ENDPOINT_NAME]": "website",
        "[ALERT_DESCRIPTION]": "healthcheck failed",
        "[ENDPOINT_URL]": "https://example.org/health",
    }
    for action in ("trigger", "resolve"):
        text = body.replace("[ALERT_TRIGGERED_OR_RESOLVED]", action)
        for placeholder, value in filled.items():
            text = text.replace(placeholder, value)
        response = await hooks.client.post(local(hooks, url), data=text, headers=JSON)
        assert response.status == 202, await response.text()
    (alert,) = await hooks.alerts()
    assert (alert.stream_key, alert.title) == ("gatus-core-website", "website: healthcheck failed")
    assert alert.state is AlertState.RESOLVED


async def test_healthchecks_webhook(hooks: Hooks) -> None:
    """Healthchecks.io's down and up bodies, with its $VARIABLES filled in."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    values = {"$CODE": "5f6a-1b2c", "$NAME": "nightly backup", "$NOW": "2026-12-04T20:00:00+00:00"}
    for name in ("healthchecks-down", "healthchecks-up"):
        body = snippet(name, hooks, token)
        for variable, value in values.items():
            body = body.replace(variable, value)
        response = await hooks.client.post(f"/hooks/events/{token}", data=body, headers=JSON)
        assert response.status == 202
    (alert,) = await hooks.alerts()
    assert alert.title == "nightly backup: no ping on time (last: 2026-12-04T20:00:00+00:00)"
    assert alert.link == "https://healthchecks.io/checks/5f6a-1b2c/details/"
    assert alert.state is AlertState.RESOLVED


async def run_shell(script: str) -> tuple[int, str]:
    """Run a bash script (with real curl) beside the event loop; (exit code, output)."""
    if shutil.which("curl") is None:
        pytest.skip("integration: curl is not installed")
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_netdata_custom_sender(hooks: Hooks) -> None:
    """The documented custom_sender, run by bash as Netdata's alarm-notify.sh runs it."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    sender = snippet("netdata", hooks, token)
    for status in ("CRITICAL", "CLEAR"):
        script = (
            'info() { :; }; error() { echo "error: $*"; }; sent=0\n'
            f"{sender}\n"
            f'status="{status}" host="db1" alarm_id="42" name="disk_space_usage"\n'
            'value_string="97%" info="disk \\"/\\" is nearly full"\n'
            'goto_url="https://db1.example/#menu_disk"\n'
            'custom_sender && echo "sent=${sent}"\n'
        )
        code, output = await run_shell(script)
        assert (code, output.strip()) == (0, "sent=1")
    (alert,) = await hooks.alerts()
    assert alert.stream_key == "netdata-db1-42"
    assert alert.title == "disk_space_usage on db1: 97% (disk / is nearly full)"
    assert (alert.severity, alert.state) == ("critical", AlertState.RESOLVED)


def zabbix_event(token: str, action: str) -> dict[str, Any]:
    """What Zabbix's PagerDuty media type posts: a trigger with its event name, host and
    severity, and acknowledge/resolve events naming only the key."""
    event: dict[str, Any] = {"routing_key": token, "dedup_key": "4137", "event_action": action}
    if action == "trigger":
        event["payload"] = {
            "summary": "High CPU utilization (over 90% for 5m)",
            "source": "web-1 : 10.0.0.5",
            "severity": "error",
            "custom_details": {"Operational data": "97 %", "Trigger description": ""},
        }
        event["client"] = "Zabbix"
        event["client_url"] = "https://zabbix.example/tr_events.php?triggerid=23&eventid=4137"
        event["links"] = [{"href": event["client_url"], "text": "Event link"}]
    return event


async def test_zabbix_media_type_with_edited_url(hooks: Hooks) -> None:
    """The edited media-type URL takes Zabbix's trigger, acknowledge and resolve; each gets
    the 202 the media type checks for."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    url = re.search(r"url = '([^']+)'", snippet("zabbix-url", hooks, token)).group(1)
    for action in ("trigger", "acknowledge", "resolve"):
        body = json.dumps(zabbix_event(token, action))
        response = await hooks.client.post(local(hooks, url), data=body, headers=JSON)
        assert response.status == 202
    (alert,) = await hooks.alerts()
    assert alert.title == "High CPU utilization (over 90% for 5m)"
    assert alert.acknowledged_at is not None and alert.state is AlertState.RESOLVED


async def test_curl_lines(hooks: Hooks) -> None:
    """The documented curl commands, run by bash: trigger, then resolve."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    for name in ("curl-trigger", "curl-resolve"):
        code, output = await run_shell(snippet(name, hooks, token))
        assert code == 0, output
        assert json.loads(output)["dedup_key"] == "backup-nightly"
    (alert,) = await hooks.alerts()
    assert (alert.title, alert.state) == ("Nightly backup failed", AlertState.RESOLVED)


async def test_uptime_kuma_pagerduty_provider(hooks: Hooks) -> None:
    """Uptime Kuma's PagerDuty provider (pointed at /hooks/events as documented): down then
    up for dedup_key "Uptime Kuma/<id>", its "[Uptime Kuma Monitor 🔴 Down]" dropped."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    monitor = fixture_json("uptimekuma/down.json")["monitor"]
    for title, action, message in (
        ("Uptime Kuma Monitor 🔴 Down", "trigger", "Request failed with status code 502"),
        ("Uptime Kuma Monitor ✅ Up", "resolve", "200 - OK"),
    ):
        event = {
            "payload": {
                "summary": f"[{title}] [{monitor['name']}] {message}",
                "severity": "warning",
                "source": monitor["url"],
            },
            "routing_key": token,
            "event_action": action,
            "dedup_key": f"Uptime Kuma/{monitor['id']}",
        }
        response = await hooks.client.post("/hooks/events", data=json.dumps(event), headers=JSON)
        assert response.status == 202
    (alert,) = await hooks.alerts()
    assert alert.title == "[Mastodon web] Request failed with status code 502"
    assert alert.state is AlertState.RESOLVED


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_guide_link_has_its_section() -> None:
    """Each link `/opsroom webhook` hands out points at a heading of the doc."""
    from bot.monitor_guides import SECTIONS

    headings = re.findall(r"^#{1,3} (.+)$", DOC.read_text(encoding="utf-8"), re.M)
    slugs = {github_slug(heading) for heading in headings}
    assert set(SECTIONS.values()) <= slugs
    assert {"healthchecksio", "plain-curl", "uptime-kuma"} <= slugs


def test_doc_names_only_real_sources() -> None:
    """Every source the doc tells users to pick exists."""
    named = set(re.findall(r"\| `([a-z]+)`", DOC.read_text(encoding="utf-8")))
    assert named <= {source.value for source in AlertSource}
    assert Path(DOC).is_file()

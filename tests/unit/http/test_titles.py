"""Titles lose the sender's state prefix, in each source's parser: a card that shows
"resolved" must not say "[FIRING:1]" or "🔴 Down"."""

from __future__ import annotations

import json

import pytest

from bot.adapters.http.parsers import PARSERS
from bot.adapters.http.parsers.common import plain_title
from bot.core.alerts import AlertSource

# (what sent it, the title as it arrives, what the card shows)
REAL_TITLES = [
    # Alertmanager's pagerduty_configs default description: {{ template "__subject" . }}
    ("alertmanager pagerduty", "[FIRING:1] HighLatency (api prod)", "HighLatency (api prod)"),
    ("alertmanager pagerduty", "[FIRING:12] DiskFull (db)", "DiskFull (db)"),
    ("alertmanager pagerduty", "[RESOLVED] HighLatency (api prod)", "HighLatency (api prod)"),
    # Grafana's PagerDuty contact point: {{ template "default.title" . }}
    ("grafana pagerduty", "[FIRING:2]  (CPU grafana-managed)", "(CPU grafana-managed)"),
    ("grafana pagerduty", "[RESOLVED:1] CPU high (web-1)", "CPU high (web-1)"),
    # Uptime Kuma's PagerDuty provider: "[<title>] [<monitor>] <msg>"
    (
        "uptime kuma pagerduty",
        "[Uptime Kuma Monitor 🔴 Down] [Mastodon web] Request failed with status code 502",
        "[Mastodon web] Request failed with status code 502",
    ),
    (
        "uptime kuma pagerduty",
        "[Uptime Kuma Monitor ✅ Up] [Mastodon web] 200 - OK",
        "[Mastodon web] 200 - OK",
    ),
    (
        "uptime kuma pagerduty",
        "[Uptime Kuma Alert] [undefined] PD Testing",
        "[undefined] PD Testing",
    ),
    # Uptime Kuma's own message text: "[<monitor>] [🔴 Down] <msg>" starts with the monitor
    ("uptime kuma msg", "🔴 Down timeout", "timeout"),
    # Gatus and Zabbix write the state as a word
    ("gatus", "TRIGGERED: api - healthcheck failed", "api - healthcheck failed"),
    ("gatus", "RESOLVED: api - healthcheck failed", "api - healthcheck failed"),
    ("zabbix", "Problem: High CPU utilization", "High CPU utilization"),
    ("zabbix", "Resolved in 5m 12s: High CPU utilization", "High CPU utilization"),
    # Titles that only look alike are left alone
    ("plain", "Disk 97% on db1", "Disk 97% on db1"),
    ("plain", "[db1] disk full", "[db1] disk full"),
    ("plain", "Problems with login", "Problems with login"),
    ("plain", "[FIRING:1]", "[FIRING:1]"),  # nothing but a prefix: kept rather than empty
]


@pytest.mark.parametrize(("sender", "given", "shown"), REAL_TITLES)
def test_plain_title(sender: str, given: str, shown: str) -> None:
    """Each sender's prefix goes; the rest of the title stays exactly as sent."""
    assert plain_title(given) == shown


def _events(summary: str) -> bytes:
    payload = {"summary": summary, "source": "s", "severity": "error"}
    return json.dumps({"event_action": "trigger", "dedup_key": "k", "payload": payload}).encode()


def _alertmanager(summary: str) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": "A"},
        "annotations": {"summary": summary},
        "startsAt": "2026-12-04T19:00:00Z",
    }
    return json.dumps({"alerts": [alert]}).encode()


def _uptimekuma(msg: str) -> bytes:
    beat = {"status": 0, "msg": msg, "time": "2026-12-04 19:00:00.000"}
    return json.dumps({"heartbeat": beat, "monitor": {"id": 1, "name": "web"}, "msg": ""}).encode()


BODIES = {
    AlertSource.EVENTS: _events,
    AlertSource.ALERTMANAGER: _alertmanager,
    AlertSource.GRAFANA: _alertmanager,
}


@pytest.mark.parametrize("source", list(BODIES))
@pytest.mark.parametrize(("sender", "given", "shown"), REAL_TITLES[:-1])
def test_parsers_store_plain_titles(source: AlertSource, sender: str, given: str, shown: str):
    """The Events, Alertmanager and Grafana parsers store the plain title."""
    (signal,) = PARSERS[source]("application/json", BODIES[source](given), {})
    assert signal.title == shown


def test_uptimerobot_title_is_monitor_and_details() -> None:
    """UptimeRobot's title is its monitor and alertDetails: "is down" would outlive the down."""
    body = b"monitorID=1&monitorFriendlyName=web&alertType=1&alertDetails=HTTP%20502"
    parse = PARSERS[AlertSource.UPTIMEROBOT]
    (signal,) = parse("application/x-www-form-urlencoded", body, {})
    assert signal.title == "web: HTTP 502"


def test_uptime_kuma_title_is_monitor_and_message() -> None:
    """Uptime Kuma's title is its monitor and the heartbeat's message, with no state word."""
    (signal,) = PARSERS[AlertSource.UPTIMEKUMA]("application/json", _uptimekuma("timeout"), {})
    assert signal.title == "web: timeout"

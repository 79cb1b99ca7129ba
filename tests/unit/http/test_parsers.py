"""The payload parsers, pure: every source's fields, identities, errors and Discord caps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.adapters.http.parsers import (
    PayloadError,
    UnsupportedMediaTypeError,
    alertmanager,
    events,
    uptimerobot,
)
from bot.adapters.http.parsers.common import (
    MAX_DETAIL_VALUE,
    MAX_DETAILS,
    MAX_TITLE,
    media_type,
    parse_time,
)
from bot.core.alerts import AlertSource, SignalAction, followed_stream
from tests.paths import fixture_bytes

JSON = "application/json"


def dumps(value: Any) -> bytes:
    """JSON bytes."""
    return json.dumps(value).encode()


# --- common -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T09:28:07.106785656Z", "2026-11-21T09:28:07.106785656Z"),
        ("2026-11-21T10:28:07.106785656+01:00", "2026-11-21T09:28:07.106785656Z"),
        ("2026-11-21T09:28:07.1067856560Z", "2026-11-21T09:28:07.106785656Z"),
        ("2026-11-21T09:28:07Z", "2026-11-21T09:28:07Z"),
        ("2026-11-21T09:28:07.500Z", "2026-11-21T09:28:07.5Z"),
        ("2015-07-17T08:42:58.315+0000", "2015-07-17T08:42:58.315Z"),
    ],
)
def test_times_normalise_to_one_episode_key(text: str, expected: str) -> None:
    """The same instant in another offset or precision gives the same key (nanoseconds kept)."""
    assert parse_time(text, "t")[1] == expected


@pytest.mark.parametrize(
    "bad", ["yesterday", "2026-13-01T00:00:00Z", 17, "0001-01-01T00:00:00+01:00"]
)
def test_bad_times_name_their_field(bad: Any) -> None:
    """Unparseable or impossible times are a PayloadError naming the field."""
    with pytest.raises(PayloadError, match="alerts\\[0\\].startsAt"):
        parse_time(bad, "alerts[0].startsAt")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (None, None)),
        ("", (None, None)),
        ("Application/JSON; Charset=UTF-8", ("application/json", "utf-8")),
        ("application/octet-stream", (None, None)),
        ('text/plain; charset="latin-1"', ("text/plain", "latin-1")),
    ],
)
def test_media_type(header: str | None, expected: tuple[str | None, str | None]) -> None:
    """Content-Type parsing: lower-cased, charset read, octet-stream treated as unspecified."""
    assert media_type(header) == expected


# --- Alertmanager / Grafana ---------------------------------------------------------------------


def test_fingerprint_matches_alertmanager() -> None:
    """FNV-1a-64 of the sorted labels gives the fingerprints a real Alertmanager 0.25 sent."""
    group = json.loads(fixture_bytes("alertmanager/alertmanager-0.25-max_alerts5-truncated7.json"))
    for alert in group["alerts"]:
        assert alertmanager.fingerprint(alert["labels"]) == alert["fingerprint"]


def test_missing_fingerprint_is_computed() -> None:
    """A sender without fingerprints still gets Alertmanager's stream key."""
    group = json.loads(fixture_bytes("alertmanager/alertmanager-0.25-firing.json"))
    for alert in group["alerts"]:
        del alert["fingerprint"]
    keys = [s.stream_key for s in alertmanager.parse(JSON, dumps(group), {})]
    assert keys == ["e94c744ae3d44df8", "82f18647108e0b7e"]


def test_each_alert_has_its_own_action() -> None:
    """A partly resolved group gives one resolve and one trigger, with the resolve's end time."""
    signals = alertmanager.parse(
        JSON, fixture_bytes("alertmanager/alertmanager-0.25-partial-resolve.json"), {}
    )
    assert [s.action for s in signals] == [SignalAction.RESOLVE, SignalAction.TRIGGER]
    assert signals[0].ended_at == datetime(2026, 11, 21, 9, 28, 16, tzinfo=UTC)
    assert signals[1].ended_at is None


def test_truncated_group_notes_the_missing_alerts() -> None:
    """truncatedAlerts is carried on every delivered alert's details."""
    signals = alertmanager.parse(
        JSON, fixture_bytes("alertmanager/alertmanager-0.25-max_alerts5-truncated7.json"), {}
    )
    assert len(signals) == 5
    assert {s.details[alertmanager.TRUNCATED_DETAIL] for s in signals} == {
        "7 more alert(s) of this group were not sent"
    }


def test_grafana_source_and_extra_fields() -> None:
    """The Grafana parser tags its signals grafana and keeps valueString; `__` keys are dropped."""
    group = json.loads(fixture_bytes("alertmanager/alertmanager-0.25-firing.json"))
    group["alerts"][0].update(valueString="[ B=97 ]", panelURL="https://g.example/d/1")
    group["alerts"][0]["annotations"]["__orgId__"] = "1"
    signal = alertmanager.parse_grafana(JSON, dumps(group), {})[0]
    assert signal.source is AlertSource.GRAFANA
    assert signal.details["Value"] == "[ B=97 ]" and "__orgId__" not in signal.details
    assert signal.link == "https://g.example/d/1"  # generatorURL is empty, runbook comes later


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda g: g.pop("alerts"), "alerts is missing"),
        (lambda g: g.update(alerts={}), "alerts must be a JSON array"),
        (lambda g: g["alerts"].__setitem__(1, "x"), "alerts[1] must be a JSON object"),
        (lambda g: g["alerts"][0].pop("status"), "alerts[0].status is missing"),
        (lambda g: g["alerts"][0].update(status=["firing"]), "alerts[0].status must be"),
        (lambda g: g["alerts"][0].update(labels=[]), "alerts[0].labels must be a JSON object"),
        (lambda g: g["alerts"][1].update(startsAt="soon"), "alerts[1].startsAt is not"),
    ],
)
def test_alertmanager_errors_name_the_field(mutate: Any, reason: str) -> None:
    """Each structural problem is a 400 that says which field of which alert."""
    group = json.loads(fixture_bytes("alertmanager/alertmanager-0.25-firing.json"))
    mutate(group)
    with pytest.raises(PayloadError) as info:
        alertmanager.parse(JSON, dumps(group), {})
    assert info.value.reason.startswith(reason)


def test_alertmanager_refuses_non_json_types() -> None:
    """Alertmanager speaks JSON only: a form is 415."""
    with pytest.raises(UnsupportedMediaTypeError):
        alertmanager.parse("application/x-www-form-urlencoded", b"a=1", {})


def test_long_annotations_are_capped_for_discord() -> None:
    """Titles stop at 256 characters and detail values at 1024, marked with an ellipsis."""
    group = json.loads(fixture_bytes("alertmanager/alertmanager-0.25-firing.json"))
    group["alerts"][0]["annotations"].update(summary="s" * 5000, description="d" * 5000)
    group["alerts"][0]["labels"].update({f"l{i}": "v" for i in range(40)})
    signal = alertmanager.parse(JSON, dumps(group), {})[0]
    assert len(signal.title) == MAX_TITLE and signal.title.endswith("…")
    assert len(signal.details["description"]) == MAX_DETAIL_VALUE
    assert len(signal.details) == MAX_DETAILS


def test_control_characters_and_lone_surrogates_are_cleaned() -> None:
    """Text that PostgreSQL or Discord would refuse (NUL, lone surrogates) is cleaned."""
    body = b'{"alerts": [{"status": "firing", "labels": {"alertname": "a\\u0000b\\ud800"},'
    body += b' "startsAt": "2026-01-01T00:00:00Z"}]}'
    signal = alertmanager.parse(JSON, body, {})[0]
    assert signal.title == "ab?"
    signal.title.encode("utf-8")


# --- Events v2 ----------------------------------------------------------------------------------


def trigger(**changes: Any) -> dict[str, Any]:
    """A valid trigger event."""
    body: dict[str, Any] = {
        "routing_key": "tok",
        "event_action": "trigger",
        "dedup_key": "k1",
        "payload": {
            "summary": "Disk full",
            "source": "db1",
            "severity": "warning",
            "timestamp": "2026-01-01T00:00:00.000+0000",
            "component": "postgres",
            "custom_details": {"free": "1%", "mounts": ["/", "/var"]},
        },
        "links": [{"href": "javascript:alert(1)"}, {"href": "https://runbook.example/disk"}],
        "images": [{"src": "https://img.example/x.png"}],
    }
    body.update(changes)
    return body


def test_events_trigger_fields() -> None:
    """summary → title, source → monitor, custom_details → details, first web link kept."""
    parsed = events.parse_event(JSON, dumps(trigger()), {})
    signal = parsed.signal
    assert (parsed.routing_key, parsed.dedup_key) == ("tok", "k1")
    assert (signal.title, signal.monitor, signal.severity) == ("Disk full", "db1", "warning")
    assert signal.stream_key == "k1" and signal.episode_key is None
    assert signal.details == {"Component": "postgres", "free": "1%", "mounts": '["/","/var"]'}
    assert signal.link == "https://runbook.example/disk"
    assert signal.started_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_events_generates_a_dedup_key_for_a_trigger_without_one() -> None:
    """PagerDuty answers a key-less trigger with a new dedup_key; so do we."""
    parsed = events.parse_event(JSON, dumps(trigger(dedup_key=None)), {}, new_key=lambda: "new")
    assert parsed.dedup_key == parsed.signal.stream_key == "new"


def test_events_acknowledge_and_resolve_need_no_payload() -> None:
    """acknowledge/resolve carry only the key."""
    for action in ("acknowledge", "resolve"):
        body = {"event_action": action, "dedup_key": "k1"}
        assert events.parse_event(JSON, dumps(body), {}).signal.action.value == action


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"event_action": "trigger"}, "payload is missing"),
        (trigger(event_action=None), "event_action is missing"),
        (trigger(event_action="snooze"), "event_action must be"),
        (trigger(dedup_key="k" * 256), "dedup_key is longer than 255"),
        ({"event_action": "resolve"}, "dedup_key is required to resolve"),
        (trigger(payload={"source": "x", "severity": "info"}), "payload.summary is missing"),
        (trigger(payload={"summary": "x", "severity": "info"}), "payload.source is missing"),
        (trigger(payload={"summary": "x", "source": "y"}), "payload.severity is missing"),
        (
            trigger(payload={"summary": "x", "source": "y", "severity": "sev1"}),
            "payload.severity must",
        ),
        (trigger(payload="x"), "payload must be a JSON object"),
        (trigger(routing_key=5), "routing_key must be a string"),
    ],
)
def test_events_errors_name_the_field(body: dict[str, Any], reason: str) -> None:
    """PagerDuty's own validation rules, each a 400 naming the field."""
    with pytest.raises(PayloadError) as info:
        events.parse_event(JSON, dumps(body), {})
    assert info.value.reason.startswith(reason)


def test_events_long_summary_is_title_plus_detail() -> None:
    """A summary over 256 characters is cut for the title and kept (to 1024) in the details."""
    body = trigger()
    body["payload"]["summary"] = "x" * 2000
    signal = events.parse_event(JSON, dumps(body), {}).signal
    assert len(signal.title) == MAX_TITLE
    assert len(signal.details["Summary"]) == MAX_DETAIL_VALUE


# --- UptimeRobot --------------------------------------------------------------------------------


def test_uptimerobot_query_form_and_json_agree() -> None:
    """The same down notification parses the same from a GET query, a form and JSON."""
    query_text = fixture_bytes("uptimerobot/down.query.txt").decode().strip()
    query = dict(parse_qsl(query_text))
    by_query = uptimerobot.parse(None, b"", query)
    by_form = uptimerobot.parse("application/x-www-form-urlencoded", query_text.encode(), {})
    by_json = uptimerobot.parse(JSON, dumps(query), {})
    assert by_query == by_form == by_json
    (signal,) = by_query
    assert (signal.stream_key, signal.action) == ("793105128", SignalAction.TRIGGER)
    assert signal.started_at == datetime.fromtimestamp(1670958060, UTC)


def test_uptimerobot_up_has_start_and_end() -> None:
    """An up event resolves at alertDateTime; alertDuration gives when the outage began."""
    (signal,) = uptimerobot.parse(
        "application/x-www-form-urlencoded", fixture_bytes("uptimerobot/up.form.txt"), {}
    )
    assert signal.action is SignalAction.RESOLVE
    assert signal.ended_at == datetime.fromtimestamp(1670958420, UTC)
    assert signal.started_at == datetime.fromtimestamp(1670958420 - 360, UTC)


def test_uptimerobot_names_ignore_case_underscores_and_stars() -> None:
    """`monitor_id`, `MonitorID` and `*monitorID*` keys all mean monitorID; body beats query."""
    for name in ("monitor_id", "MonitorID", "*monitorID*"):
        (signal,) = uptimerobot.parse(
            JSON, dumps({name: "42", "alert_type": "1"}), {"monitorID": "7"}
        )
        assert signal.stream_key == "42"


def test_unreplaced_variables_count_as_missing() -> None:
    """A literal `*alertType*` is no alert type, so the friendly name decides, else 400."""
    body = {"monitorID": "1", "alertType": "*alertType*", "alertTypeFriendlyName": "Up"}
    assert uptimerobot.parse(JSON, dumps(body), {})[0].action is SignalAction.RESOLVE
    with pytest.raises(PayloadError, match="alertType is missing"):
        uptimerobot.parse(JSON, dumps({"monitorID": "1", "alertType": "*alertType*"}), {})


def test_uptimerobot_expiry_stream() -> None:
    """alertType 3 triggers on the monitor's expiry stream, as a warning that pages nobody."""
    (signal,) = uptimerobot.parse(JSON, fixture_bytes("uptimerobot/ssl-expiry.json"), {})
    assert (signal.stream_key, signal.action, signal.severity, signal.escalates) == (
        "793105131:expiry",
        SignalAction.TRIGGER,
        "warning",
        False,
    )
    assert signal.notice  # a notice: never "firing" or "resolved" in the draft
    assert followed_stream(signal.stream_key, notice=True) == "793105131"  # its monitor's
    assert followed_stream("793105131:expiry:urgent", notice=True) == "793105131"
    assert followed_stream("url:https://x.example:expiry", notice=True) == "url:https://x.example"
    assert followed_stream("a:expiry", notice=False) == "a:expiry"  # only notices follow


@pytest.mark.parametrize(
    ("changes", "urgent"),
    [
        ({"sslExpiryDaysLeft": "2", "alertDetails": "SSL certificate expires in 2 days"}, True),
        ({"sslExpiryDaysLeft": "1"}, True),
        ({"sslExpiryDaysLeft": "0"}, True),
        ({"sslExpiryDaysLeft": "3", "alertDetails": "SSL certificate expires in 3 days"}, False),
        ({"sslExpiryDaysLeft": "*sslExpiryDaysLeft*", "alertDetails": "expires in 1 day"}, True),
        ({"sslExpiryDaysLeft": "*sslExpiryDaysLeft*", "alertDetails": "expires in 30 days"}, False),
        ({"sslExpiryDaysLeft": "*x*", "alertDetails": "SSL certificate has expired"}, True),
        ({"sslExpiryDaysLeft": "soon", "alertDetails": "Domain expiry notice"}, False),
    ],
)
def test_uptimerobot_expiry_two_days_or_less_escalates(
    changes: dict[str, str], urgent: bool
) -> None:
    """An expiry notice saying 2 days or less escalates, on its own stream (so the open
    7-day notice cannot absorb it as a repeat); one further out stays a notice."""
    body = {**json.loads(fixture_bytes("uptimerobot/ssl-expiry.json")), **changes}
    (signal,) = uptimerobot.parse(JSON, dumps(body), {})
    assert signal.escalates is urgent
    assert signal.severity == ("critical" if urgent else "warning")
    expected = "793105131:expiry:urgent" if urgent else "793105131:expiry"
    assert signal.stream_key == expected


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"monitorID": "1", "alertType": "9"}, "alertType must be 1"),
        ({"monitorID": "1", "alertType": "1", "alertDateTime": "noon"}, "alertDateTime must be"),
        ({"monitorID": "1", "alertType": "2", "alertDuration": "long"}, "alertDuration must be"),
    ],
)
def test_uptimerobot_errors_name_the_field(fields: dict[str, str], reason: str) -> None:
    """Invalid values are 400s naming the UptimeRobot variable."""
    with pytest.raises(PayloadError, match=reason):
        uptimerobot.parse(None, b"", fields)


def test_uptimerobot_refuses_multipart() -> None:
    """UptimeRobot never sends multipart; it is 415 rather than a guess."""
    with pytest.raises(UnsupportedMediaTypeError):
        uptimerobot.parse("multipart/form-data; boundary=x", b"--x--", {})

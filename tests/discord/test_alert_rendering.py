"""Alert cards, digests and pings as pure functions, and the per-channel budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.discord import alert_rendering, limits, pacing
from bot.core.alerts import Alert, AlertSource, AlertState, EscalationTarget
from bot.core.model import Person, Severity

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def alert(n: int = 1, **changes) -> Alert:
    values = dict(
        guild_id=1,
        source=AlertSource.ALERTMANAGER,
        stream_key=f"fp{n}",
        episode_key=None,
        monitor=f"node-{n}",
        title=f"Disk full on node-{n}",
        state=AlertState.FIRING,
        started_at=T0,
        received_at=T0,
        last_seen_at=T0,
        id=n,
    )
    values.update(changes)
    return Alert(**values)


def test_card_fits_discord_limits_whatever_the_payload():
    """Huge titles, details and links are cut; a bad link is shown as text, not as embed URL."""
    huge = alert(
        title="x" * 5000,
        monitor="m" * 5000,
        details={f"k{i}": "v" * 2000 for i in range(50)},
        link="not a url " * 500,
        severity="s" * 500,
    )
    embed = alert_rendering.card(huge, "#1 " + "t" * 500)
    assert len(embed) <= limits.EMBED_TOTAL and len(embed.title) <= limits.EMBED_TITLE
    assert embed.url is None
    assert all(len(f.value) <= limits.FIELD_VALUE for f in embed.fields)
    assert len(alert_rendering.card_content(huge)) < limits.CONTENT


def test_resolved_card_says_how_long_it_lasted():
    """Duration from start to resolution, green."""
    done = alert(state=AlertState.RESOLVED, resolved_at=T0 + timedelta(minutes=65))
    assert alert_rendering.state_text(done) == "✅ Resolved after 1h 05m"
    assert alert_rendering.card(done).colour.value == 0x2ECC71


def test_acknowledged_card_names_who_took_it():
    """Acknowledged alerts are orange and mention the person (which never pings)."""
    taken = alert(acknowledged_at=T0, acknowledged_by=Person(42, "alice"))
    assert (
        alert_rendering.state_text(taken) == f"👀 Acknowledged by <@42> <t:{int(T0.timestamp())}:R>"
    )
    assert alert_rendering.colour(taken) == 0xF57C00


def test_a_small_digest_lists_every_alert_without_a_file():
    """Monitor, title, state and since on each line; a menu of all of them."""
    alerts = [alert(n) for n in range(1, 11)]
    digest = alert_rendering.digest(alerts)
    lines = digest.embed.description.splitlines()
    assert len(lines) == 10 and digest.file is None
    assert (
        lines[0]
        == f"🔴 firing · `A1` **node-1** — Disk full on node-1 · since <t:{int(T0.timestamp())}:R>"
    )
    assert [value for _, value, _ in digest.choices] == [str(n) for n in range(1, 11)]


def test_a_big_digest_says_how_many_more_and_attaches_all_of_them():
    """300 alerts do not fit one embed: "+N more" names the attached file, which has all 300."""
    alerts = [alert(n, title="t" * 150) for n in range(1, 301)]
    digest = alert_rendering.digest(alerts)
    assert len(digest.embed) <= limits.EMBED_TOTAL
    assert len(digest.embed.description) <= limits.EMBED_DESCRIPTION
    shown = digest.embed.description.count("`A")
    name, data = digest.file
    assert name == "alerts-A1-A300.txt"
    assert f"**+{300 - shown} more**: all 300 are listed in the attached `{name}`" in (
        digest.embed.description
    )
    listed = data.decode().splitlines()[2:]
    assert [line.split(" | ")[0] for line in listed] == [f"A{n}" for n in range(1, 301)]
    assert len(digest.choices) == 25


def test_digest_menu_puts_what_still_needs_someone_first():
    """Firing before acknowledged before resolved, at most 25."""
    alerts = [
        alert(1, state=AlertState.RESOLVED, resolved_at=T0),
        alert(2, acknowledged_at=T0),
        alert(3),
    ]
    digest = alert_rendering.digest(alerts)
    assert [value for _, value, _ in digest.choices] == ["3", "2", "1"]
    assert digest.embed.footer.text.startswith("1 firing · 1 acknowledged · 1 resolved")


def test_digest_lines_escape_markdown_and_stay_on_one_line():
    """A title with newlines or ** cannot break the list."""
    line = alert_rendering.digest_line(alert(title="**bold**\nnext line"))
    assert "\n" not in line and "\\*\\*bold\\*\\*" in line


def test_oncall_ping_names_the_role_and_the_reminder():
    """Reminder N of M with how long it fired and a link to the card."""
    firing = alert(escalation_level=2)
    text = alert_rendering.ping_text(
        firing,
        EscalationTarget.ONCALL,
        77,
        repeats=3,
        now=T0 + timedelta(minutes=10),
        link="https://discord.com/channels/1/2/3",
    )
    assert text.startswith("🔔 <@&77> **Disk full on node-1** (node-1) has been firing for 10m")
    assert (
        "(reminder 2 of 3)" in text
        and "[view the alert](https://discord.com/channels/1/2/3)" in text
    )


def test_a_ping_without_a_role_says_so():
    """No escalation role configured: the message says how to set one, and mentions no role."""
    text = alert_rendering.ping_text(
        alert(escalation_level=4), EscalationTarget.ESCALATION, None, repeats=3, now=T0, link=None
    )
    assert "<@&" not in text
    assert "No escalation role is configured, so nobody was pinged" in text


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("critical", Severity.SEV1),
        ("Error", Severity.SEV2),
        ("warning", Severity.SEV3),
        ("info", Severity.SEV4),
        (None, Severity.SEV2),
        ("weird", Severity.SEV2),
    ],
)
def test_declare_form_starts_from_the_monitors_severity(word, severity):
    """Monitor level words map to the form's preselected severity (sev2 when unknown)."""
    assert alert_rendering.suggested_severity(alert(severity=word)) is severity


def test_budget_allows_five_per_window_then_says_how_long_to_wait(monkeypatch):
    """Sliding window on the monotonic clock: the sixth waits until the first is old enough."""
    now = [100.0]
    monkeypatch.setattr(pacing.time, "monotonic", lambda: now[0])
    budget = pacing.Budget(limit=5, per=5.0, margin=0.25)
    for _ in range(5):
        assert budget.available() > 0
        budget.spend()
        now[0] += 0.5
    assert budget.available() == 0
    assert budget.wait() == pytest.approx(100.0 + 5.25 - now[0])
    assert budget.wait(3) == pytest.approx(101.0 + 5.25 - now[0])  # the third oldest expires
    now[0] = 105.25
    assert budget.available() == 1 and budget.wait() == 0.0
    assert budget.wait(2) == pytest.approx(0.5)

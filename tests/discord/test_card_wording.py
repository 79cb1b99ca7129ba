"""An alert card says each thing once: no title repeated in the details, no stale
"Type: Down" after the monitor came back up."""

from __future__ import annotations

from datetime import timedelta

from bot.adapters.discord import alert_rendering
from bot.core.alerts import AlertSource, AlertState
from tests.discord.test_alert_rendering import alert

UPTIMEROBOT = {
    "source": AlertSource.UPTIMEROBOT,
    "monitor": "streaming",
    "title": "streaming is down: HTTP 502 - Bad Gateway",
    "details": {
        "Details": "HTTP 502 - Bad Gateway",
        "Type": "Down",
        "URL": "https://example.social/api/v1/streaming/health",
    },
}


def test_a_firing_card_says_the_title_once_and_no_state_word():
    card = alert(**UPTIMEROBOT)
    content = alert_rendering.card_content(card)
    assert content == "🔴 **firing** · streaming is down: HTTP 502 - Bad Gateway"
    embed = alert_rendering.card(card)
    assert embed.description == "**URL**: https://example.social/api/v1/streaming/health"


def test_a_resolved_card_does_not_still_say_down():
    card = alert(**UPTIMEROBOT)
    card.state, card.resolved_at = AlertState.RESOLVED, card.started_at + timedelta(minutes=12)
    embed = alert_rendering.card(card)
    shown = str(embed.to_dict())
    assert "Down" not in shown and "Resolved after 12m" in shown


def test_the_monitor_name_leads_when_the_title_does_not_name_it():
    card = alert(monitor="db1", title="Disk 97% full", details={})
    assert alert_rendering.card_content(card) == "🔴 **firing** · db1: Disk 97% full"

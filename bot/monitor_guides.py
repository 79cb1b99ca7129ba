"""Where the documentation shows how to connect each monitor (docs/monitors.md), so that the
answer that hands out a webhook URL can say where its configuration is written down."""

from __future__ import annotations

GUIDE = "docs/monitors.md"
SECTIONS = {
    "uptimerobot": "uptimerobot",
    "alertmanager": "prometheus-alertmanager",
    "grafana": "grafana",
    "uptimekuma": "uptime-kuma",
    "events": "connecting-your-monitors",  # the table: Gatus, Healthchecks.io, Netdata, …
}
"""Section anchors (GitHub's heading slugs) by source; a source without one gets the file."""


def guide_for(source: str) -> str:
    """The guide, with the section for `source` when it has one."""
    section = SECTIONS.get(source)
    return f"{GUIDE}#{section}" if section else GUIDE

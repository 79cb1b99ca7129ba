"""The incident's picture: a PNG that reads well for incidents of minutes and of days."""

from __future__ import annotations

import struct
from datetime import timedelta

import pytest

from bot.core.postmortem import build_postmortem
from bot.postmortem.picture import MAX_ALERT_ROWS, render_png
from tests.picture_cases import incident_over
from tests.unit.test_postmortem_render import _incident


def size_of(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize(
    "length", [timedelta(minutes=5), timedelta(hours=3), timedelta(days=3)], ids=str
)
def test_incidents_of_minutes_and_of_days_make_a_readable_png(length):
    """Phases, alerts, a notice and pages on one axis: a wide PNG of a sensible size."""
    png = render_png(incident_over(length))
    width, height = size_of(png)
    assert width == 1320 and 400 < height < 900
    assert 20_000 < len(png) < 500_000


def test_more_alerts_than_rows_keep_the_picture_small():
    """A storm of alerts draws the first rows and counts the rest, so the height is bounded."""
    few = size_of(render_png(incident_over(timedelta(hours=1), alerts=2)))
    many = size_of(render_png(incident_over(timedelta(hours=1), alerts=200)))
    capped = size_of(render_png(incident_over(timedelta(hours=1), alerts=MAX_ALERT_ROWS)))
    assert few[1] < many[1] == capped[1]


def test_an_incident_without_alerts_or_pages_and_at_one_moment_still_draws():
    """Nothing but milestones, all at the same second: the axis still spans a minute."""
    data = build_postmortem(_incident(), entries=[], alerts=[], actions=[], notes=[])
    assert size_of(render_png(data))[0] == 1320

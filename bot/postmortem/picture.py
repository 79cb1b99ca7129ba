"""The incident at a glance, as a PNG: status phases, milestones, each alert's firing span and
each page on one UTC time axis.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global
state), so it is safe in a worker thread: callers render it off the event loop. The axis
adapts from minutes to days (matplotlib's concise date labels), milestone labels that would
overlap are stacked, and at most `MAX_ALERT_ROWS` alerts get their own row (the rest are
counted), so a 3-day incident and a 5-minute one both read well.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib: no display, ever

from matplotlib import dates as mdates  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from bot.core.postmortem import AlertRow, PostmortemData  # noqa: E402

MAX_ALERT_ROWS = 12
WIDTH_INCHES = 12.0
AXES_WIDTH = 0.77  # of the figure
TOP_INCHES, ROW_INCHES, BOTTOM_INCHES = 1.55, 0.42, 0.75
MAX_LABEL_LEVELS = 5  # stacked milestone labels above the plot; more share the top one
LABEL_POINTS_PER_CHAR = 5.0  # a generous average for 8-point labels
DPI = 110
PHASE_COLOURS = {
    "undeclared": "#b0b0b0",
    "investigating": "#e02b2b",
    "identified": "#f57c00",
    "monitoring": "#f2c037",
    "resolved": "#2ecc71",
}
MILESTONE_COLOUR = "#34495e"
ALERT_COLOUR = "#8e44ad"
ANSWERED, UNANSWERED = "#2e7d32", "#c62828"


def render_png(data: PostmortemData) -> bytes:
    """The picture of the incident as PNG bytes."""
    start, end = _span(data)
    alerts = [a for a in data.alerts if a.fired_at is not None]
    shown = alerts[:MAX_ALERT_ROWS]
    rows = ["Status", *(_alert_label(a) for a in shown), "Pages"]
    plot = ROW_INCHES * len(rows)
    height = TOP_INCHES + plot + BOTTOM_INCHES
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.2, BOTTOM_INCHES / height, AXES_WIDTH, plot / height))
    axes.set_xlim(_num(start), _num(end))
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.set_yticks(range(len(rows)), rows, fontsize=9)
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    _phases(axes, data)
    for row, alert in enumerate(shown, start=1):
        _alert(axes, row, alert, data.ends_at or end)
    _pages(axes, data, len(rows) - 1)
    _milestones(axes, figure, data, start, end)
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    axes.tick_params(axis="x", labelsize=9)
    axes.set_xlabel("UTC", fontsize=9)
    title = f"#{data.number} {data.title}"
    title = title if len(title) <= 90 else title[:89] + "…"
    top = 1 - 0.1 / height
    figure.suptitle(title, x=0.02, y=top, ha="left", va="top", fontsize=13, fontweight="bold")
    resolve = next(m for m in data.measures if m.milestone == "resolved")
    summary = f"{data.severity} ({data.severity_label}) · {data.status} · "
    summary += f"time to resolve {resolve.duration}" + " · all times UTC"
    if len(alerts) > len(shown):
        summary += f" · {len(alerts) - len(shown)} more alerts not drawn"
    figure.text(0.02, top - 0.3 / height, summary, va="top", fontsize=9, color="#555555")
    _legend(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _span(data: PostmortemData) -> tuple[datetime, datetime]:
    """From the first known moment to the last, with a margin (a minute at least)."""
    moments = [m.at for m in data.milestones if m.at is not None]
    moments += [p.start for p in data.phases] + [p.end for p in data.phases]
    moments += [p.at for p in data.pages]
    moments += [a.fired_at for a in data.alerts if a.fired_at is not None]
    if data.ends_at is not None:
        moments.append(data.ends_at)
    start = min(m.astimezone(UTC) for m in moments)
    end = max(m.astimezone(UTC) for m in moments)
    margin = max((end - start) * 0.03, timedelta(seconds=30))
    return start - margin, end + margin


def _num(at: datetime) -> float:
    return float(mdates.date2num(at.astimezone(UTC)))


def _width(start: datetime, end: datetime) -> float:
    return _num(end) - _num(start)


def _phases(axes: Axes, data: PostmortemData) -> None:
    """The status stretches as coloured bars on the first row, named when they fit."""
    total = axes.get_xlim()
    span = total[1] - total[0]
    for phase in data.phases:
        left, width = _num(phase.start), _width(phase.start, phase.end)
        colour = PHASE_COLOURS.get(phase.status, "#95a5a6")
        axes.broken_barh([(left, width)], (-0.35, 0.7), color=colour)
        if width > span * 0.09:
            axes.text(left + width / 2, 0, phase.status, ha="center", va="center", fontsize=8)


def _alert(axes: Axes, row: int, alert: AlertRow, end: datetime) -> None:
    """One alert's firing span (to the end of the record while it fires); a notice is one
    diamond."""
    assert alert.fired_at is not None
    if alert.notice:
        axes.plot([_num(alert.fired_at)], [row], marker="D", color=ALERT_COLOUR, markersize=7)
        return
    until = alert.resolved_at or end
    width = max(_width(alert.fired_at, until), 0.0)
    axes.broken_barh(
        [(_num(alert.fired_at), width)], (row - 0.25, 0.5), color=ALERT_COLOUR, alpha=0.75
    )
    axes.plot([_num(alert.fired_at)], [row], marker="|", color="black", markersize=12)


def _pages(axes: Axes, data: PostmortemData, row: int) -> None:
    """Each page as a marker: green when it was answered, red when nobody answered."""
    for page in data.pages:
        colour = ANSWERED if page.answered else UNANSWERED
        marker = "o" if page.answered else "X"
        axes.plot([_num(page.at)], [row], marker=marker, color=colour, markersize=8)


def _milestones(
    axes: Axes, figure: Figure, data: PostmortemData, start: datetime, end: datetime
) -> None:
    """Dashed lines at each milestone, labelled above the plot; near ones are stacked."""
    span = _width(start, end)
    per_char = span * LABEL_POINTS_PER_CHAR / (AXES_WIDTH * WIDTH_INCHES * 72)
    levels: list[float] = []  # where the free room begins on each level (data units)
    together: dict[datetime, list[str]] = {}  # milestones at the same moment share a label
    for milestone in data.milestones:
        if milestone.at is not None:
            together.setdefault(milestone.at.astimezone(UTC), []).append(milestone.label)
    for at, names in sorted(together.items()):
        x = _num(at)
        axes.axvline(x, color=MILESTONE_COLOUR, linestyle="--", linewidth=0.9)
        label = f"{', '.join(names)} {_clock(at, end - start)}"
        width = (len(label) + 1) * per_char
        right = x + width > _num(end)  # no room before the right edge: the label goes left
        left_edge = x - width if right else x
        level = next((n for n, free in enumerate(levels) if left_edge > free), len(levels))
        level = min(level, MAX_LABEL_LEVELS - 1)
        if level == len(levels):
            levels.append(0.0)
        levels[level] = x if right else x + width
        axes.annotate(
            label,
            xy=(x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-2 if right else 2, 4 + 12 * level),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=8,
            color=MILESTONE_COLOUR,
            annotation_clip=False,
        )


def _legend(figure: Figure) -> None:
    """What the colours and marks mean, along the bottom."""
    handles = [Patch(color=colour, label=name) for name, colour in PHASE_COLOURS.items()]
    handles += [
        Patch(color=ALERT_COLOUR, alpha=0.75, label="alert firing"),
        Line2D([], [], marker="D", color=ALERT_COLOUR, linestyle="", label="notice"),
        Line2D([], [], marker="o", color=ANSWERED, linestyle="", label="page answered"),
        Line2D([], [], marker="X", color=UNANSWERED, linestyle="", label="page unanswered"),
        Line2D([], [], color=MILESTONE_COLOUR, linestyle="--", label="milestone"),
    ]
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=7.5,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=1.4,
        columnspacing=1.0,
    )


def _alert_label(alert: AlertRow) -> str:
    text = f"{alert.monitor}: {alert.title}" if alert.monitor else alert.title
    text = " ".join(text.split())
    return text if len(text) <= 30 else text[:29] + "…"


def _clock(at: datetime, span: timedelta) -> str:
    """A milestone's time as precisely as the span needs: seconds for short incidents, the
    date for those over a day."""
    at = at.astimezone(UTC)
    if span > timedelta(days=1):
        return f"{at:%b %d %H:%M}"
    if span < timedelta(hours=2):
        return f"{at:%H:%M:%S}"
    return f"{at:%H:%M}"

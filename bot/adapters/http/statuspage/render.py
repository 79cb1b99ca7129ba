"""Render a status page's read model once into every representation it is served as.

HTML (Jinja2, autoescaped), Atom (feedgen) and Statuspage v2 JSON are all made from the
same `PublicData`, which holds only read-model records: nothing else can reach an answer.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from importlib import resources
from itertools import groupby
from typing import Any

import jinja2
from feedgen.feed import FeedGenerator

from bot.adapters.http.statuspage.api import StatuspageJson, iso
from bot.core.statuspage import (
    DESCRIPTIONS,
    Component,
    ComponentState,
    Maintenance,
    MaintenanceStatus,
    PublicIncident,
    StatusPage,
    effective_states,
    overall,
)

REFRESH_SECONDS = 60
DAY_ROLLOVER = timedelta(days=1)


@dataclass(frozen=True)
class PublicData:
    """Everything one page shows, read from the read model in one unit of work."""

    page: StatusPage
    components: list[Component]
    incidents: list[PublicIncident]  # active ones and the last 90 days, newest first
    maintenances: list[Maintenance]  # not cancelled, ending in the last 90 days or later


@dataclass(frozen=True)
class Representation:
    """One rendered answer with its validators."""

    body: bytes
    content_type: str
    etag: str
    gzipped: bytes  # compressed once per version, for clients that accept gzip


@dataclass
class Snapshot:
    """Every representation of a page at one version, valid until `valid_until` (the next
    maintenance start or end, or a day later: the only changes time makes by itself)."""

    version: int
    last_modified: datetime
    valid_until: datetime
    representations: dict[str, Representation] = field(default_factory=dict)


def http_date(moment: datetime) -> str:
    """An HTTP date (`Last-Modified`)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class Renderer:
    """Turns `PublicData` into a `Snapshot`; built once per process."""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")

    def page_url(self, slug: str) -> str:
        return f"{self.public_url}/status/{slug}"

    def snapshot(self, data: PublicData, now: datetime) -> Snapshot:
        """Render every representation of the page as it is at `now`."""
        boundaries = [t for m in data.maintenances for t in (m.starts_at, m.ends_at)]
        passed = [t for t in boundaries if t <= now]
        future = [t for t in boundaries if t > now]
        snapshot = Snapshot(
            version=data.page.version,
            last_modified=max([data.page.updated_at, *passed]).replace(microsecond=0),
            valid_until=min([now + DAY_ROLLOVER, *future]),
        )
        json_doc = StatuspageJson(self, data, now)
        makers: dict[str, tuple[str, Callable[[], bytes]]] = {
            "html": ("text/html; charset=utf-8", lambda: self.html(data, now)),
            "atom": ("application/atom+xml; charset=utf-8", lambda: self.atom(data)),
            "summary": ("application/json", lambda: _json(json_doc.summary())),
            "status": ("application/json", lambda: _json(json_doc.status())),
            "components": ("application/json", lambda: _json(json_doc.components())),
            "incidents": ("application/json", lambda: _json(json_doc.incidents())),
            "unresolved": ("application/json", lambda: _json(json_doc.incidents(True))),
            "maintenances": ("application/json", lambda: _json(json_doc.maintenances())),
            "upcoming": ("application/json", lambda: _json(json_doc.maintenances(True))),
        }
        for name, (content_type, make) in makers.items():
            body = make()
            tag = hashlib.sha256(body).hexdigest()[:20]
            snapshot.representations[name] = Representation(
                body, content_type, f'"{tag}"', gzip.compress(body, mtime=0)
            )
        return snapshot

    def html(self, data: PublicData, now: datetime) -> bytes:
        """The page: overall state, active incidents, maintenance, components, history."""
        states = effective_states(data.components, data.maintenances, now)
        indicator = overall(data.components, data.incidents, data.maintenances, now)
        groups = [
            (group, [(c, states[c.name]) for c in members])
            for group, members in groupby(
                sorted(data.components, key=lambda c: (c.group or "", c.position)),
                key=lambda c: c.group,
            )
        ]
        past = [i for i in data.incidents if not i.active]
        days = [
            (day, list(items))
            for day, items in groupby(past, key=lambda i: (i.resolved_at or i.created_at).date())
        ]
        upcoming = [
            (m, m.status(now))
            for m in data.maintenances
            if m.status(now) is not MaintenanceStatus.COMPLETED
        ]
        text = _template().render(
            page=data.page,
            base=f"/status/{data.page.slug}",
            indicator=indicator,
            description=DESCRIPTIONS[indicator],
            active=[i for i in data.incidents if i.active],
            maintenances=upcoming,
            groups=groups,
            days=days,
            now=now,
            refresh=REFRESH_SECONDS,
            css=_css(),
            Operational=ComponentState.OPERATIONAL,
        )
        return text.encode()

    def atom(self, data: PublicData) -> bytes:
        """An entry per public update (newest first), as feed readers expect."""
        page = data.page
        url = self.page_url(page.slug)
        feed = FeedGenerator()
        feed.id(url)
        feed.title(f"{page.title} status")
        feed.link(href=url, rel="alternate")
        feed.link(href=f"{url}/feed.atom", rel="self")
        feed.language("en")
        feed.updated(page.updated_at)
        updates = [(i, u) for i in data.incidents for u in i.updates]
        updates.sort(key=lambda pair: (pair[1].created_at, pair[1].id or 0))
        for incident, update in updates:  # feedgen puts the last added first
            entry = feed.add_entry()
            entry.id(f"{url}#{incident.code}-{update.id}")
            entry.title(f"{incident.title}: {update.status.value.capitalize()}")
            entry.link(href=f"{url}#incident-{incident.code}")
            entry.published(update.created_at)
            entry.updated(update.created_at)
            entry.content(update.body, type="text")
        return feed.atom_str(pretty=True)


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.adapters.http.statuspage", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = lambda t: f"{t.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    env.filters["iso"] = iso
    return env.get_template("page.html.j2")


@cache
def _css() -> str:
    return (resources.files("bot.adapters.http.statuspage") / "style.css").read_text()

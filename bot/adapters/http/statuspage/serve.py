"""Serve status pages: rendered once per change, answered from memory with validators.

Each process keeps one `Snapshot` per slug. Before answering from it, it checks the page's
`version` column (one indexed read, at most once a second per slug, shared by every request
waiting in that second), so a `--role web` process sees what the bot process published
within about a second; in a single process a commit expires the check at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.adapters.http.statuspage.render import (
    PublicData,
    Renderer,
    Representation,
    Snapshot,
    http_date,
)
from bot.core.errors import StorageUnavailableError
from bot.core.ports import Clock, UnitOfWorkFactory
from bot.core.statuspage import HISTORY_DAYS

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
CACHE_CONTROL = "public, max-age=15"
ROUTES = {
    "": "html",
    "/feed.atom": "atom",
    "/api/v2/summary.json": "summary",
    "/api/v2/status.json": "status",
    "/api/v2/components.json": "components",
    "/api/v2/incidents.json": "incidents",
    "/api/v2/incidents/unresolved.json": "unresolved",
    "/api/v2/scheduled-maintenances.json": "maintenances",
    "/api/v2/scheduled-maintenances/upcoming.json": "upcoming",
}
NOT_FOUND = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Not found</title>"
    "<main><h1>No such status page</h1></main></html>"
)


@dataclass
class _Entry:
    snapshot: Snapshot
    checked: float  # monotonic time of the last version check


class StatusPageCache:
    """The rendered snapshots of this process, refreshed when their page's version moves."""

    def __init__(
        self,
        read_uow_factory: UnitOfWorkFactory,
        clock: Clock,
        public_url: str,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._uow_factory = read_uow_factory
        self._clock = clock
        self._renderer = Renderer(public_url)
        self._check_seconds = check_seconds
        self._entries: dict[str, _Entry] = {}
        self._pending: dict[str, asyncio.Task[Snapshot | None]] = {}
        self.renders = 0  # how many times a page was rendered (tests: once per change)

    def expire(self) -> None:
        """Something was committed in this process: check versions on the next request."""
        for entry in self._entries.values():
            entry.checked = float("-inf")

    async def get(self, slug: str) -> Snapshot | None:
        """The page's current snapshot, or None when no enabled page has this slug."""
        entry = self._entries.get(slug)
        if (
            entry is not None
            and time.monotonic() - entry.checked < self._check_seconds
            and self._clock.now() < entry.snapshot.valid_until
        ):
            return entry.snapshot
        task = self._pending.get(slug)
        if task is None:  # one check per slug at a time; everyone else waits for it
            task = asyncio.create_task(self._refresh(slug, entry))
            self._pending[slug] = task
            task.add_done_callback(lambda _: self._pending.pop(slug, None))
        try:
            return await asyncio.shield(task)
        except StorageUnavailableError:
            if entry is None:
                raise
            # The database may be what the incident is about: the page people check then
            # must not go dark. Serve what was last rendered; try again in a second.
            log.warning("status page %s: database unavailable, serving the last rendering", slug)
            entry.checked = time.monotonic()
            return entry.snapshot

    async def _refresh(self, slug: str, entry: _Entry | None) -> Snapshot | None:
        checked = time.monotonic()
        async with self._uow_factory() as uow:
            version = await uow.statuspage.version(slug)
            if version is None:
                self._entries.pop(slug, None)
                return None
            now = self._clock.now()
            snapshot = entry.snapshot if entry is not None else None
            if snapshot is not None and snapshot.version == version and now < snapshot.valid_until:
                assert entry is not None
                entry.checked = checked
                return snapshot
            page = await uow.statuspage.by_slug(slug)
            assert page is not None
            since = now - timedelta(days=HISTORY_DAYS)
            data = PublicData(
                page,
                await uow.statuspage.components(page.guild_id),
                await uow.statuspage.incidents(page.guild_id, since),
                await uow.statuspage.maintenances(page.guild_id, since),
            )
        snapshot = self._renderer.snapshot(data, now)
        self.renders += 1
        self._entries[slug] = _Entry(snapshot, checked)
        return snapshot


CACHE_KEY = web.AppKey("statuspage_cache", StatusPageCache)


def _answer(request: web.Request, snapshot: Snapshot, rep: Representation) -> web.Response:
    """200 with the body, or 304 when the client's validators still match."""
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    etag = f'{rep.etag[:-1]}-gz"' if gzipped else rep.etag  # each encoding its own tag
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(snapshot.last_modified),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if rep.content_type.startswith("text/html"):
        # Nothing may load from elsewhere: inline styles only, no scripts at all.
        headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    else:
        headers["Access-Control-Allow-Origin"] = "*"  # widgets read the JSON from other sites
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        if etag in tags or match.strip() == "*":
            return web.Response(status=304, headers=headers)
    elif (since := request.if_modified_since) is not None and snapshot.last_modified <= since:
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = rep.content_type
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=rep.gzipped, headers=headers)
    return web.Response(body=rep.body, headers=headers)


def _handler(kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler answering one representation of any page."""

    async def handle(request: web.Request) -> web.StreamResponse:
        slug = request.match_info["slug"]
        snapshot = await request.app[CACHE_KEY].get(slug.lower())
        if snapshot is None:
            if kind == "html":
                return web.Response(text=NOT_FOUND, status=404, content_type="text/html")
            return web.json_response({"error": "no such status page"}, status=404)
        return _answer(request, snapshot, snapshot.representations[kind])

    return handle


def add_status_routes(app: web.Application, cache: StatusPageCache) -> None:
    """Mount `/status/{slug}` and its feed and Statuspage v2 JSON (GET and HEAD)."""
    app[CACHE_KEY] = cache
    for suffix, kind in ROUTES.items():
        app.router.add_get(f"/status/{{slug}}{suffix}", _handler(kind))

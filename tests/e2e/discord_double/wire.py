"""HTTP plumbing shared by the REST routes: the router, request records, replies, bodies.

Replies carry ``Content-Type: application/json`` exactly: discord.py parses JSON only on an
exact match (http.py:113), and aiohttp's ``json_response`` appends ``; charset=utf-8``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .double import DiscordDouble


@dataclass
class Upload:
    field: str
    filename: str
    data: bytes


@dataclass
class RequestRecord:
    """One request as the double saw it; ``route`` is None for unknown routes."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: list[Upload] = field(default_factory=list)
    route: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0
    response: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: Any = None, status: int = 200) -> Reply:
    return Reply(status, body)


def no_content() -> Reply:
    return Reply(204, None)


def error(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"message": message, "code": code})


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A response discord.py parses: the exact content type, no charset."""
    headers = dict(headers or {})
    if status == 204 or body is None:
        return web.Response(status=status, headers=headers)
    headers["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)


@dataclass
class Call:
    """What a route handler receives."""

    double: DiscordDouble
    record: RequestRecord
    params: dict[str, str]

    @property
    def body(self) -> Any:
        return self.record.json

    @property
    def files(self) -> list[Upload]:
        return self.record.files

    def param(self, name: str) -> int:
        return int(self.params[name])


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str]
    public: bool = False  # interaction tokens authenticate themselves
    global_exempt: bool = False  # interaction endpoints are outside the global limit

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


class Router:
    """Routes matched in registration order; ``{name}`` matches one path segment."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self, method: str, template: str, *, public: bool = False, global_exempt: bool = False
    ) -> Callable[[Handler], Handler]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(method, template, handler, re.compile(f"^{regex}$"), public, global_exempt)
            )
            return handler

        return register

    def include(self, other: Router) -> None:
        self.routes.extend(other.routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """JSON bodies, or multipart with payload_json and files[n] as discord.py sends them."""
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("multipart/"):
        payload: Any = None
        uploads: list[Upload] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await part.read()  # type: ignore[union-attr]
            name = part.name or ""  # type: ignore[union-attr]
            if name == "payload_json":
                payload = json.loads(data)
            else:
                uploads.append(Upload(name, part.filename or name, bytes(data)))  # type: ignore[union-attr]
        return payload, uploads
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []

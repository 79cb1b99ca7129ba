"""Real receivers on loopback for pager tests: an SMTP server (aiosmtpd) and an HTTP server
speaking ntfy's publish API, which Apprise's `ntfy://127.0.0.1:PORT/topic` URLs reach.

ntfy's publish API (docs.ntfy.sh/publish): `POST|PUT /{topic}` with the message as the body
and `X-Title`, `X-Priority` (1-5 or min/low/default/high/max), `X-Tags`, `X-Click` headers
(also spelt `Title`, `Priority`, …); or `POST /` with a JSON body
`{"topic", "message", "title", "priority", …}`. It answers 200 with the message as JSON.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import json
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiohttp import web
from aiosmtpd.smtp import SMTP

PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}


@dataclass
class NtfyMessage:
    """One published message, as ntfy would store it."""

    topic: str
    title: str
    message: str
    priority: int
    tags: list[str] = field(default_factory=list)
    click: str | None = None


def _header(request: web.Request, name: str) -> str | None:
    for spelling in (f"X-{name}", name, name.lower()[:1] if name != "Title" else "t"):
        value = request.headers.get(spelling)
        if value is not None:
            return value
    return None


def _priority(value: object) -> int:
    text = str(value or "default").strip().lower()
    if text.isdigit():
        return min(max(int(text), 1), 5)
    if text not in PRIORITIES:
        raise ValueError(text)
    return PRIORITIES[text]


class NtfyReceiver:
    """`async with NtfyReceiver() as ntfy:` … `ntfy.url("topic")`, `await ntfy.wait(n)`."""

    def __init__(self) -> None:
        self.messages: list[NtfyMessage] = []
        self.fail_next = 0  # answer this many publishes with 500 (a broken pager)
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self.port = 0

    def url(self, topic: str) -> str:
        return f"ntfy://127.0.0.1:{self.port}/{topic}"

    async def __aenter__(self) -> NtfyReceiver:
        app = web.Application()
        app.router.add_route("*", "/{topic}", self._publish)
        app.router.add_route("*", "/", self._publish)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    async def _publish(self, request: web.Request) -> web.Response:
        if request.method not in ("POST", "PUT"):
            return web.json_response({"error": "method not allowed"}, status=405)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"code": 50001, "error": "broken on purpose"}, status=500)
        body = await request.text()
        topic = request.match_info.get("topic", "")
        try:
            if not topic:  # JSON publishing
                data = json.loads(body)
                topic, body = data["topic"], data.get("message", "")
                # JSON fields win; ntfy still reads the headers for what the JSON leaves out.
                title = data.get("title") or _header(request, "Title") or ""
                priority = _priority(data.get("priority") or _header(request, "Priority"))
                tags = list(data.get("tags", [])) or [
                    t for t in (_header(request, "Tags") or "").split(",") if t
                ]
                click = data.get("click") or _header(request, "Click")
            else:
                title = _header(request, "Title") or ""
                priority = _priority(_header(request, "Priority"))
                tags = [t for t in (_header(request, "Tags") or "").split(",") if t]
                click = _header(request, "Click")
        except (ValueError, KeyError) as exc:
            return web.json_response({"error": f"invalid request: {exc}"}, status=400)
        message = NtfyMessage(topic, title, body, priority, tags, click)
        async with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return web.json_response(
            {
                "id": f"m{next(self._ids)}",
                "time": int(time.time()),
                "event": "message",
                "topic": topic,
                "title": title,
                "message": body,
                "priority": priority,
            }
        )

    async def wait(self, count: int, within: float = 20.0) -> list[NtfyMessage]:
        """Wait until at least `count` messages arrived (a condition, not a sleep)."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.messages) >= count), within
            )
        return list(self.messages)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = asyncio.Condition()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        raw = envelope.content  # type: ignore[attr-defined]
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        async with self.changed:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.changed.notify_all()
        return "250 OK"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on the test's event loop, collecting every message.

    `async with SmtpReceiver() as smtp:`; Apprise sends from a worker thread meanwhile.
    """

    def __init__(self) -> None:
        self._inbox = _Inbox()
        self.port = 0

    @property
    def messages(self) -> list[EmailMessage]:
        return self._inbox.messages

    def url(self, to: str = "oncall@example.com") -> str:
        return (
            f"mailto://example.com:{self.port}?smtp=127.0.0.1&mode=insecure"
            f"&from=opsroom@example.com&to={to}"
        )

    async def __aenter__(self) -> SmtpReceiver:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._inbox, hostname="opsroom-test"), "127.0.0.1", 0
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def wait(self, count: int, within: float = 20.0) -> list[EmailMessage]:
        """Wait until `count` messages arrived."""
        async with self._inbox.changed:
            await asyncio.wait_for(
                self._inbox.changed.wait_for(lambda: len(self.messages) >= count), within
            )
        return list(self.messages)

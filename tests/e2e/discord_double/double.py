"""The Discord double: one aiohttp server on 127.0.0.1 serving REST (/api/v10), the gateway
(/gateway, /gateway-resume) and attachment downloads, plus helpers that act as users."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import discord
import yarl
from aiohttp import web

from . import channels, events, interactions, messages, rest
from .gateway import GatewayServer
from .interactions import InteractionRecord
from .ratelimit import RateLimiter
from .state import Channel, Message, User
from .users import Users
from .wire import RequestRecord, Router, error, json_response
from .world import World, snowflake_of


class DiscordDouble(Users):
    """A small, faithful Discord for the real discord.py client; see the package docstring."""

    def __init__(
        self,
        *,
        token: str = "double-token",
        heartbeat_interval: float = 1.0,
        message_limit: tuple[int, float] = (5, 5.0),
        global_limit: tuple[int, float] = (50, 1.0),
        default_limit: tuple[int, float] = (50, 1.0),
        route_limits: dict[str, tuple[int, float]] | None = None,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 900.0,
        nonce_window: float = 300.0,
        enforce_permissions: bool = True,
        rename_limit: tuple[int, float] | None = (2, 600.0),
        populate: bool = True,
    ) -> None:
        self.world = World(token=token)
        self.limiter = RateLimiter(
            message_limit=message_limit,
            global_limit=global_limit,
            default_limit=default_limit,
            route_limits=route_limits,
        )
        self.gateway = GatewayServer(self.world, heartbeat_interval=heartbeat_interval)
        self.world.on_change = self.gateway.dispatch
        self.router = Router()
        for module in (rest, channels, events, messages, interactions):  # pins before messages
            self.router.include(module.router)
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        self.nonce_window = nonce_window
        self.enforce_permissions = enforce_permissions
        self.rename_limit = rename_limit  # channel name/topic changes per channel, per window
        self.requests: list[RequestRecord] = []
        self.unknown_routes: list[RequestRecord] = []
        self.invalid_requests: list[RequestRecord] = []
        self.command_syncs: list[dict[str, Any]] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self.files: dict[int, bytes] = {}
        self.scheduled_events: dict[int, dict[str, Any]] = {}  # id → event payload
        self.crossposts: dict[int, list[float]] = {}  # channel id → times published
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Event | None = None
        if populate:
            self.alice = self.world.add_user("alice")
            self.bob = self.world.add_user("bob")
            self.guild = self.world.add_guild("Double Guild", self.alice)
            self.world.add_member(self.guild, self.bob)
            self.general = self.world.add_channel(self.guild, "general")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> DiscordDouble:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway-resume", self.gateway.handle)
        app.router.add_get("/attachments/{channel}/{id}/{name}", self._attachment)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        app.router.add_route("*", "/{tail:.*}", self._elsewhere)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.gateway.resume_url = f"ws://127.0.0.1:{self.port}/gateway-resume"
        self._changed = asyncio.Event()
        return self

    async def stop(self) -> None:
        for connection in self.gateway.live:
            connection.closing = True
            await connection.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordDouble:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _rest(self, request: web.Request) -> web.Response:
        return await rest.handle(self, request)

    async def _elsewhere(self, request: web.Request) -> web.Response:
        record = RequestRecord(
            request.method, request.path, dict(request.query), dict(request.headers), status=404
        )
        self.requests.append(record)
        self.unknown_routes.append(record)
        reply = error(404, 0, "404: Not Found")
        return json_response(reply.status, reply.body)

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.files.get(int(request.match_info["id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # -- waiting ---------------------------------------------------------------------------

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def wait_until(
        self, predicate: Callable[[], Any], within: float = 5.0, what: str = "a condition"
    ) -> None:
        """Poll ``predicate`` (woken by every request) until true, or fail after ``within`` s."""
        deadline = time.monotonic() + within
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"discord double: waited {within}s for {what}")
            assert self._changed is not None, "start the double first"
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.02))

    # -- lookups ---------------------------------------------------------------------------

    def channel(self, value: Any) -> Channel:
        if isinstance(value, Channel):
            return value
        if isinstance(value, str) and not value.isdigit():
            return self.world.find_channel(value.lstrip("#"))
        return self.world.channels[snowflake_of(value)]

    def user(self, value: Any) -> User:
        if isinstance(value, User):
            return value
        if isinstance(value, str) and not value.isdigit():
            return next(u for u in self.world.users.values() if u.username == value)
        return self.world.users[snowflake_of(value)]

    def messages_in(
        self, channel: Any, *, include_deleted: bool = False, types: tuple[int, ...] | None = None
    ) -> list[Message]:
        """Messages in creation order; ``types=(0, 19, 20)`` drops system notices (pins...)."""
        found = self.world.messages_in(self.channel(channel), include_deleted=include_deleted)
        return [m for m in found if types is None or m.type in types]

    def requests_to(self, route: str) -> list[RequestRecord]:
        """Requests that matched ``route`` ("METHOD /template", e.g. "PUT /applications/...")."""
        return [r for r in self.requests if r.route == route]

    # -- running a client ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(
        self, client: discord.Client, *, ready_within: float = 10.0
    ) -> AsyncIterator[discord.Client]:
        """Start ``client`` against the double, yield once ready, close it afterwards."""
        task = asyncio.create_task(client.start(self.token))
        try:
            await self.wait_until(
                lambda: client.is_ready() or task.done(), ready_within, "the client to become ready"
            )
            if task.done():
                task.result()  # raises what stopped the client
                raise RuntimeError("the client stopped before it was ready")
            yield client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10.0)


@contextlib.contextmanager
def point_discord_py_at(double: DiscordDouble) -> Iterator[None]:
    """Redirect discord.py's REST (Route.BASE) and gateway (DEFAULT_GATEWAY); restore after."""
    route, gateway = discord.http.Route, discord.gateway.DiscordWebSocket
    saved = route.BASE, gateway.DEFAULT_GATEWAY
    route.BASE = double.api_base
    gateway.DEFAULT_GATEWAY = yarl.URL(double.gateway_url)
    try:
        yield
    finally:
        route.BASE, gateway.DEFAULT_GATEWAY = saved

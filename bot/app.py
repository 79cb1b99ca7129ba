"""Composition root: settings → storage → services → servers, started and stopped in order.

Every CLI command comes through here. Failures the operator can fix (database unreachable,
port in use) become a `ConfigError` naming the setting, which the CLI prints in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import discord
from aiohttp import web
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bot.adapters.db import (
    SqlUnitOfWork,
    check_connection,
    create_engine,
    head_revision,
    session_factory,
    upgrade_to_head,
)
from bot.adapters.db.errors import storage_errors
from bot.adapters.db.gauges import open_counts
from bot.adapters.db.readiness import DatabaseReadiness
from bot.adapters.discord import OpsroomBot, create_bot, point_at
from bot.adapters.discord import sync_commands as discord_sync
from bot.adapters.http.health import ReadinessCheck
from bot.adapters.http.server import build_web_app
from bot.adapters.http.statuspage.serve import CACHE_KEY as STATUS_CACHE_KEY
from bot.adapters.metrics import Metrics
from bot.adapters.scheduling import OpsroomScheduler
from bot.adapters.tls import TlsProbe
from bot.config import ConfigError, Settings
from bot.core.alerts import AlertSource
from bot.core.clock import SystemClock
from bot.core.errors import StorageUnavailableError
from bot.core.heartbeats import schedule_option
from bot.core.ports import UnitOfWorkFactory
from bot.core.services import Services

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x6F70_7372_6F6F_6D  # "opsroom": the advisory lock every process migrates under
ALONE_POLL_SECONDS = 30.0
"""`--role all`: every commit is this process's own and wakes the relay; the poll is a net."""
BOT_ROLE_POLL_SECONDS = 1.0
"""`--role bot`: the `--role web` processes store the alerts and ring no bell here, so the
relay reads the outbox every second (docs/operations.md, "Scale-out")."""


class CommitSignal:
    """Called after every commit; in-process consumers (the Discord relay) subscribe to it."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def __call__(self) -> None:
        for listener in self._listeners:
            listener()


@dataclass
class Runtime:
    """What every command shares: the engine, the services over it, the commit signal."""

    settings: Settings
    engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    services: Services
    commits: CommitSignal
    metrics: Metrics
    readiness: DatabaseReadiness | None = None  # set once migrated and connected

    async def database_problem(self) -> str | None:
        """None when the database answers with Opsroom's schema (and, on SQLite, is still
        the file that was opened), else why not (for /readyz)."""
        if self.readiness is not None:
            return await self.readiness.problem()
        try:
            await check_connection(self.engine)
        except StorageUnavailableError as exc:
            return str(exc)
        return None


async def _gateway_problem(bot: OpsroomBot) -> str | None:
    """None when the gateway session is up, else why not (for /readyz)."""
    return None if bot.is_ready() and not bot.is_closed() else "gateway not connected"


def _database_error(exc: Exception) -> ConfigError:
    """The storage error already names the (masked) URL; add which setting holds it."""
    return ConfigError(f"OPSROOM_DATABASE_URL: {exc}")


async def migrate(settings: Settings) -> None:
    """Bring the schema to the newest migration (one process at a time, see `_migrating`)."""
    try:
        async with _migrating(settings.database_url):
            await upgrade_to_head(settings.database_url)
    except StorageUnavailableError as exc:
        raise _database_error(exc) from None


@contextlib.asynccontextmanager
async def _migrating(url: str) -> AsyncIterator[None]:
    """On PostgreSQL, hold an advisory lock while migrating: N `--role web` processes and the
    bot started together would otherwise race to create the same tables, and all but one
    would crash. The others wait, then find the schema at head. (SQLite serialises writers
    with its own lock.)"""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with storage_errors(engine.url, connecting=True):
            connection = await engine.connect()
        try:
            with storage_errors(engine.url):
                await connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            yield
        finally:
            await connection.close()  # a session lock: ends with the connection
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Migrate, connect and build the services; always dispose of the engine."""
    await migrate(settings)
    engine = create_engine(settings.database_url)
    try:
        try:
            await check_connection(engine)
        except StorageUnavailableError as exc:
            raise _database_error(exc) from None
        sessions = session_factory(engine)
        commits = CommitSignal()

        def uow_factory() -> SqlUnitOfWork:
            return SqlUnitOfWork(sessions, on_commit=commits)

        probe = TlsProbe(allow_private=settings.watch_allow_private)
        services = Services.build(uow_factory, SystemClock(), probe=probe)
        metrics = Metrics()
        metrics.count_with(lambda: open_counts(engine))
        runtime = Runtime(settings, engine, uow_factory, services, commits, metrics)
        runtime.readiness = DatabaseReadiness(engine, head_revision())
        yield runtime
    finally:
        await engine.dispose()


async def create_webhook(
    settings: Settings,
    guild_id: int,
    source: str,
    name: str | None,
    signing_secret: str | None = None,
    every: str | None = None,
    grace: str | None = None,
    *,
    signature_header: str | None = None,
    timestamp_header: str | None = None,
) -> str:
    """Make a webhook token for a guild and return its URL (the only time it is shown);
    `every` and `grace` make a heartbeat's schedule."""
    schedule = schedule_option(every, grace)
    async with open_runtime(settings) as runtime:
        webhook, token = await runtime.services.webhooks.create(
            guild_id,
            AlertSource(source),
            name,
            actor=None,
            signing_secret=signing_secret,
            heartbeat=schedule,
            signature_header=signature_header,
            timestamp_header=timestamp_header,
        )
    log.info("created webhook %s (%s) for guild %s", webhook.id, source, guild_id)
    return f"{settings.public_url}/hooks/{source}/{token}"


async def sync_commands(settings: Settings, guild_id: int | None) -> None:
    """Push the slash commands now (to `guild_id`, else the dev guild, else globally)."""
    token = settings.require_token()
    point_at(settings.discord_api_base, settings.discord_gateway_url)
    async with open_runtime(settings) as runtime:
        target = guild_id or settings.dev_guild_id
        try:
            count = await discord_sync(runtime.services, runtime.uow_factory, token, target)
        except discord.LoginFailure:
            raise _token_error() from None
    log.info("synced %d commands to %s", count, f"guild {target}" if target else "all servers")


def _token_error() -> ConfigError:
    return ConfigError(
        "OPSROOM_DISCORD_TOKEN: Discord rejected the token; copy it again from the "
        "Developer Portal (Bot → Reset Token)."
    )


async def export_postmortem(settings: Settings, guild_id: int, number: int) -> str:
    """The incident's postmortem draft as Markdown (the guild's own template if it set one)."""
    from bot.postmortem.export import export_markdown

    async with open_runtime(settings) as runtime:
        return await export_markdown(runtime.services, guild_id, number)


async def export_picture(settings: Settings, guild_id: int, number: int) -> bytes:
    """The incident's picture (PNG): status phases, milestones, alerts and pages."""
    from bot.postmortem.export import export_picture as picture

    async with open_runtime(settings) as runtime:
        return await picture(runtime.services, guild_id, number)


async def _start_http(runtime: Runtime, bot: OpsroomBot | None, role: str) -> web.AppRunner:
    """Bind the HTTP server, turning a busy or forbidden port into a ConfigError."""
    checks: dict[str, ReadinessCheck] = {"database": runtime.database_problem}
    if bot is not None:
        checks["discord"] = lambda: _gateway_problem(bot)
    app = build_web_app(
        services=runtime.services,
        uow_factory=runtime.uow_factory,
        metrics=runtime.metrics,
        readiness_checks=checks,
        accept_webhooks=role != "bot",
        public_url=runtime.settings.public_url,
        storage_guard=runtime.readiness.file_problem if runtime.readiness else None,
    )
    if STATUS_CACHE_KEY in app:  # this process's own publishing commits show at once
        runtime.commits.subscribe(app[STATUS_CACHE_KEY].expire)
    runner = web.AppRunner(app, access_log=None)  # no access log: webhook URLs carry tokens
    await runner.setup()
    settings = runtime.settings
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        where = f"{settings.http_host}:{settings.http_port}"
        if exc.errno == errno.EADDRINUSE:
            reason = f"{where} is already in use; stop the other program or choose another port"
        else:
            reason = f"cannot listen on {where}: {exc.strerror or exc}"
        raise ConfigError(f"OPSROOM_HTTP_PORT / OPSROOM_HTTP_HOST: {reason}") from None
    log.info("HTTP server listening on http://%s:%s", settings.http_host, settings.http_port)
    return runner


async def run(settings: Settings, role: str = "all", *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop`): migrations, the HTTP server and, unless this
    process is a web-only receiver, the Discord bot with its relay."""
    token = settings.require_token() if role != "web" else None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings) as runtime:
        bot = None
        scheduler: OpsroomScheduler | None = None  # the clock's door runs beside the bot
        if token is not None:
            point_at(settings.discord_api_base, settings.discord_gateway_url)
            bot = create_bot(
                runtime.services,
                runtime.uow_factory,
                dev_guild_id=settings.dev_guild_id,
                public_url=settings.public_url,
                metrics=runtime.metrics,
                poll_interval=BOT_ROLE_POLL_SECONDS if role == "bot" else ALONE_POLL_SECONDS,
            )
            runtime.commits.subscribe(bot.notifier.wake)
            scheduler = OpsroomScheduler.for_services(runtime.services, clock=SystemClock())
            runtime.commits.subscribe(scheduler.wake)
        runner = await _start_http(runtime, bot, role)
        try:
            if scheduler is not None:
                await _restart_heartbeats(runtime.services)  # before any deadline fires
                await scheduler.start()
            log.info("opsroom running (role %s); stop with Ctrl-C or SIGTERM", role)
            await _until_stopped(stop, bot, token)
        finally:
            log.info("shutting down")
            if scheduler is not None:
                await scheduler.shutdown()
            if bot is not None:
                await bot.close()
            await runner.cleanup()


async def _restart_heartbeats(services: Services) -> None:
    """Give heartbeats due while Opsroom was down their grace; a database hiccup here only
    means they fire without it (the sweeps retry on their own)."""
    try:
        await services.heartbeats.restart()
    except StorageUnavailableError as exc:
        log.warning("could not give missed heartbeats their grace at start (%s)", exc)


async def _until_stopped(stop: asyncio.Event, bot: OpsroomBot | None, token: str | None) -> None:
    """Wait for the stop signal; a bot that ends on its own ends the run, with its reason."""
    waiters = {asyncio.create_task(stop.wait(), name="stop")}
    if bot is not None and token is not None:
        waiters.add(asyncio.create_task(bot.start(token), name="discord"))
    try:
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    for task in done:
        if task.get_name() == "discord" and not task.cancelled():
            error = task.exception()
            if isinstance(error, discord.LoginFailure):
                raise _token_error()
            if isinstance(error, discord.PrivilegedIntentsRequired | discord.GatewayNotFound):
                raise ConfigError(f"OPSROOM_DISCORD_GATEWAY_URL / Discord: {error}")
            if isinstance(error, aiohttp.ClientConnectionError):
                raise ConfigError(
                    f"OPSROOM_DISCORD_API_BASE: cannot reach Discord's REST API ({error})"
                )
            if error is not None:
                raise error

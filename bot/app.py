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
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapters.db import (
    SqlUnitOfWork,
    check_connection,
    create_engine,
    session_factory,
    upgrade_to_head,
)
from bot.adapters.http.health import add_health_routes
from bot.config import ConfigError, Settings
from bot.core.alerts import AlertSource
from bot.core.clock import SystemClock
from bot.core.errors import StorageUnavailableError
from bot.core.services import Services

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What every command shares: the engine and the services over it."""

    settings: Settings
    engine: AsyncEngine
    services: Services

    async def database_problem(self) -> str | None:
        """None when the database answers, else why not (for /readyz)."""
        try:
            await check_connection(self.engine)
        except StorageUnavailableError as exc:
            return str(exc)
        return None


def _database_error(exc: Exception) -> ConfigError:
    """The storage error already names the (masked) URL; add which setting holds it."""
    return ConfigError(f"OPSROOM_DATABASE_URL: {exc}")


async def migrate(settings: Settings) -> None:
    """Bring the schema to the newest migration."""
    try:
        await upgrade_to_head(settings.database_url)
    except StorageUnavailableError as exc:
        raise _database_error(exc) from None


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
        services = Services.build(lambda: SqlUnitOfWork(sessions), SystemClock())
        yield Runtime(settings, engine, services)
    finally:
        await engine.dispose()


async def create_webhook(settings: Settings, guild_id: int, source: str, name: str | None) -> str:
    """Make a webhook token for a guild and return its URL (the only time it is shown)."""
    async with open_runtime(settings) as runtime:
        webhook, token = await runtime.services.webhooks.create(
            guild_id, AlertSource(source), name, actor=None
        )
    log.info("created webhook %s (%s) for guild %s", webhook.id, source, guild_id)
    return f"{settings.public_url}/hooks/{source}/{token}"


async def sync_commands(settings: Settings, guild_id: int | None) -> None:
    """Not built yet: slash commands arrive with the Discord bot."""
    raise ConfigError("sync-commands is not available yet: this build has no Discord bot.")


async def export_postmortem(settings: Settings, guild_id: int, number: int) -> str:
    """The incident's postmortem draft as Markdown (the guild's own template if it set one)."""
    from bot.postmortem.export import export_markdown

    async with open_runtime(settings) as runtime:
        return await export_markdown(runtime.services, guild_id, number)


async def _start_http(runtime: Runtime) -> web.AppRunner:
    """Bind the HTTP server, turning a busy or forbidden port into a ConfigError."""
    app = web.Application()
    add_health_routes(app, {"database": runtime.database_problem})
    runner = web.AppRunner(app, access_log=None)
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
    """Run until SIGINT/SIGTERM (or `stop` is set): migrations, then the HTTP server."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings) as runtime:
        runner = await _start_http(runtime)
        try:
            log.info("opsroom running (role %s); stop with Ctrl-C or SIGTERM", role)
            await stop.wait()
        finally:
            log.info("shutting down")
            await runner.cleanup()

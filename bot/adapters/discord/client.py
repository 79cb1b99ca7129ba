"""The Opsroom bot: intents, the error-answering command tree, start-up and shutdown."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import permissions
from bot.adapters.discord.alert_buttons import DYNAMIC_ITEMS
from bot.adapters.discord.alert_relay import AlertRelay
from bot.adapters.discord.incident_pages import PAGE_ITEMS
from bot.adapters.discord.interactions import answered_in_time
from bot.adapters.discord.notifier import DiscordNotifier
from bot.adapters.discord.paging_notices import register_paging
from bot.adapters.discord.postmortem import register_postmortem
from bot.adapters.discord.reminders import register_reminders
from bot.adapters.discord.statuspage import StatusPageRelay
from bot.adapters.discord.sync import force_sync, sync_if_changed
from bot.core.clock import SystemClock
from bot.core.errors import OpsroomError, StorageBusyError, StorageUnavailableError
from bot.core.ports import Clock, UnitOfWorkFactory
from bot.core.services import Services

if TYPE_CHECKING:
    from bot.adapters.metrics import Metrics

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.setup",
    "cogs.incidents",
    "cogs.timeline",
    "cogs.actions",
    "cogs.postmortem",
    "cogs.oncall",
    "cogs.statuspage",
    "cogs.watch",
)
DEFAULT_PUBLIC_URL = "http://localhost:8080"
_MESSAGE_PATH = re.compile(r"/channels/\d+/messages(/\d+)?$")
GENERIC_ERROR = "Something went wrong on our side; it has been logged. Please try again."
STORAGE_ERROR = "The Opsroom database is unavailable right now; please try again in a minute."
STORAGE_BUSY = "The Opsroom database is busy right now; please try again in a few seconds."


def error_message(error: BaseException) -> str | None:
    """The one line a user sees for an expected failure, or None for a bug."""
    original = getattr(error, "original", error)
    if isinstance(original, StorageBusyError):
        return STORAGE_BUSY
    if isinstance(original, StorageUnavailableError):
        return STORAGE_ERROR
    if isinstance(original, OpsroomError):
        return str(original)
    if isinstance(original, discord.Forbidden):
        return (
            "Discord refused: I am missing a permission there "
            f"({original.text or 'Missing Permissions'}). Ask an admin to check my role."
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return "Opsroom commands work in servers only."
    if isinstance(error, app_commands.MissingPermissions | app_commands.BotMissingPermissions):
        return str(error)
    if isinstance(error, app_commands.TransformerError):
        return f"Could not read {error.value!r} as {error.type.name.lower()}."
    return None


class OpsroomTree(app_commands.CommandTree):
    """A command tree that always answers, and in time: core refusals in one line, bugs
    apologetically, and anything slow deferred before Discord's deadline."""

    async def _call(self, interaction: discord.Interaction) -> None:
        """Every command (not autocomplete) runs, error handler included, under the deadline
        guard. (discord.py offers no public hook around a command's whole run.)"""
        if interaction.type is discord.InteractionType.application_command:
            await answered_in_time(interaction, super()._call(interaction))
        else:
            await super()._call(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Turn any failure into a short ephemeral reply; log the unexpected ones in full."""
        message = error_message(error)
        if message is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error(
                "command %r failed (guild %s, user %s)",
                command,
                interaction.guild_id,
                interaction.user.id,
                exc_info=getattr(error, "original", error),
            )
            message = GENERIC_ERROR
        else:
            log.debug("command refused: %s", message)
        try:
            none = discord.AllowedMentions.none()
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True, allowed_mentions=none)
            else:
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=none
                )
        except discord.HTTPException:
            log.warning("could not tell the user about a failed command", exc_info=True)


class OpsroomBot(commands.Bot):
    """The Discord side of Opsroom; built by `create_bot`, run with `await bot.start(token)`."""

    def __init__(
        self,
        services: Services,
        uow_factory: UnitOfWorkFactory,
        *,
        dev_guild_id: int | None = None,
        clock: Clock | None = None,
        auto_sync: bool = True,
        run_notifier: bool = True,
        poll_interval: float = 30.0,
        public_url: str = DEFAULT_PUBLIC_URL,
        metrics: Metrics | None = None,
        **options: Any,
    ) -> None:
        if metrics is not None:
            options.setdefault("http_trace", discord_trace(metrics))
        # Opsroom never joins voice: without these discord.py warns of PyNaCl and davey.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()  # none privileged: nothing to enable in the portal
        intents.guilds = True  # channels, roles and threads in cache; no message content
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=OpsroomTree,
            **options,
        )
        self.services = services
        self.uow_factory = uow_factory
        self.dev_guild_id = dev_guild_id
        self.public_url = public_url.rstrip("/")  # webhook URLs: {public_url}/hooks/{source}/…
        self.metrics = metrics
        self.auto_sync = auto_sync
        self.run_notifier = run_notifier
        self.notifier = DiscordNotifier(
            self, uow_factory, clock=clock or SystemClock(), poll_interval=poll_interval
        )
        self.alert_relay = AlertRelay(
            self,
            self.notifier,
            services.alerts if services is not None else None,  # None: only reading commands
            uow_factory,
            clock=clock or SystemClock(),
            metrics=metrics,
        )
        register_reminders(self.notifier)
        register_postmortem(self.notifier)
        register_paging(self.notifier)
        self.statuspage_relay = StatusPageRelay(
            self, uow_factory, clock or SystemClock(), self.public_url
        )
        self.statuspage_relay.register(self.notifier)

    async def setup_hook(self) -> None:
        """Load the cogs, start the outbox relay, and sync commands if the tree changed."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*DYNAMIC_ITEMS, *PAGE_ITEMS)  # buttons work on any old message
        if self.run_notifier:
            self.notifier.start()
        if self.auto_sync:
            try:
                await sync_if_changed(self.tree, self.uow_factory, self.dev_guild_id)
            except discord.HTTPException as exc:
                # Stale commands beat no bot: run on, and try again at the next start (the
                # hash is only stored after a successful sync).
                where = f"guild {self.dev_guild_id}" if self.dev_guild_id else "global commands"
                hint = " (is the bot in OPSROOM_DEV_GUILD_ID?)" if self.dev_guild_id else ""
                log.error("slash-command sync to %s failed: %s%s", where, exc, hint)

    async def on_ready(self) -> None:
        """Say which bot is connected and where; in no server yet, how to invite it."""
        user, count = self.user, len(self.guilds)
        assert user is not None
        servers = "1 server" if count == 1 else f"{count} servers"
        log.info("logged in as %s (%s) in %s", user, user.id, servers)
        if count == 0 and self.application_id:
            log.info("invite me to a server: %s", permissions.invite_url(self.application_id))

    async def close(self) -> None:
        """Stop relaying first, so nothing is half-sent while the connection goes away."""
        await self.notifier.stop()
        await self.alert_relay.stop()
        await self.statuspage_relay.stop()
        await super().close()


def create_bot(
    services: Services,
    uow_factory: UnitOfWorkFactory,
    *,
    dev_guild_id: int | None = None,
    public_url: str = DEFAULT_PUBLIC_URL,
    metrics: Metrics | None = None,
    **options: Any,
) -> OpsroomBot:
    """The bot for `opsroom run`: start with `await bot.start(token)`, stop with `bot.close()`.

    Wire `bot.notifier.wake` as the unit of work's after-commit callback so changes reach
    Discord at once; without it the notifier still polls every `poll_interval` seconds.
    `public_url` is the base of the webhook URLs `/opsroom webhook` shows; `metrics`, if
    given, counts Discord messages, 429s, escalation pings and the relay's queue.
    """
    return OpsroomBot(
        services,
        uow_factory,
        dev_guild_id=dev_guild_id,
        public_url=public_url,
        metrics=metrics,
        **options,
    )


def discord_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """Count, on the wire, every 429 Discord answers and every channel message made or edited
    (discord.py retries 429s inside its HTTP client, where nothing else can see them)."""
    trace = aiohttp.TraceConfig()

    async def on_request_end(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        status = params.response.status
        if status == 429:
            metrics.discord_429()
        elif (
            status < 300
            and params.method in ("POST", "PATCH")
            and _MESSAGE_PATH.search(params.url.path)
        ):
            metrics.discord_message_sent(edit=params.method == "PATCH")

    trace.on_request_end.append(on_request_end)
    return trace


async def sync_commands(
    services: Services, uow_factory: UnitOfWorkFactory, token: str, guild_id: int | None
) -> int:
    """`opsroom sync-commands`: log in (REST only), push the commands, log out."""
    bot = OpsroomBot(services, uow_factory, auto_sync=False, run_notifier=False)
    async with bot:
        await bot.login(token)
        return await force_sync(bot, guild_id)

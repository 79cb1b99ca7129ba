"""The Discord adapter: the bot, the outbox notifier, rendering, and command sync.

The composition root needs only: `point_at(api_base, gateway_url)`, then
`bot = create_bot(services, uow_factory, dev_guild_id=…)`, `await bot.start(token)` and
`await bot.close()`; `bot.notifier.wake` is the after-commit callback; `sync_commands(…)`
serves `opsroom sync-commands`.
"""

from bot.adapters.discord.client import OpsroomBot, OpsroomTree, create_bot, sync_commands
from bot.adapters.discord.endpoints import point_at
from bot.adapters.discord.notifier import DiscordNotifier
from bot.adapters.discord.sync import force_sync, sync_if_changed, tree_hash

__all__ = [
    "DiscordNotifier",
    "OpsroomBot",
    "OpsroomTree",
    "create_bot",
    "force_sync",
    "point_at",
    "sync_commands",
    "sync_if_changed",
    "tree_hash",
]

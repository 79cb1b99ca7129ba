"""Slash-command sync only when the command tree changed: its hash is kept in the database.

Syncing on every start is slow and Discord rate-limits it (about 200 command creates a
day per guild); never syncing leaves users with stale commands after an upgrade.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands

from bot.core.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

META_KEY = "discord.commands_hash"


def meta_key(guild_id: int | None) -> str:
    """The meta key of one sync scope: global, or one guild."""
    return f"{META_KEY}:{'global' if guild_id is None else f'guild:{guild_id}'}"


def _scope(tree: app_commands.CommandTree, guild_id: int | None) -> discord.Object | None:
    """The guild object to sync to, with the global commands copied onto it."""
    if guild_id is None:
        return None
    guild = discord.Object(id=guild_id)
    tree.copy_global_to(guild=guild)
    return guild


def tree_payload(tree: app_commands.CommandTree, guild_id: int | None = None) -> list[Any]:
    """What a sync would send for this scope, in a stable order."""
    guild = discord.Object(id=guild_id) if guild_id is not None else None
    commands = [c.to_dict(tree) for c in tree.get_commands(guild=guild)]
    return sorted(commands, key=lambda c: (c.get("type", 1), c["name"]))


def tree_hash(tree: app_commands.CommandTree, guild_id: int | None = None) -> str:
    """sha256 of the sorted command JSON: equal hashes mean Discord already has this tree."""
    text = json.dumps(tree_payload(tree, guild_id), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def _stored(uow_factory: UnitOfWorkFactory, guild_id: int | None) -> str | None:
    async with uow_factory() as uow:
        return await uow.meta.get(meta_key(guild_id))


async def _store(uow_factory: UnitOfWorkFactory, guild_id: int | None, digest: str) -> None:
    async with uow_factory() as uow:
        await uow.meta.set(meta_key(guild_id), digest)
        await uow.commit()


async def _sync(
    tree: app_commands.CommandTree, uow_factory: UnitOfWorkFactory, guild_id: int | None
) -> int:
    guild = _scope(tree, guild_id)
    digest = tree_hash(tree, guild_id)
    synced = await tree.sync(guild=guild)
    await _store(uow_factory, guild_id, digest)
    log.info(
        "synced %d slash commands %s",
        len(synced),
        "globally" if guild_id is None else f"to guild {guild_id}",
    )
    return len(synced)


async def sync_if_changed(
    tree: app_commands.CommandTree, uow_factory: UnitOfWorkFactory, guild_id: int | None = None
) -> bool:
    """Sync to `guild_id` (or globally) when the tree differs from the last sync there."""
    _scope(tree, guild_id)
    digest = tree_hash(tree, guild_id)
    if await _stored(uow_factory, guild_id) == digest:
        log.info("slash commands unchanged since the last sync; not syncing")
        return False
    await _sync(tree, uow_factory, guild_id)
    return True


async def force_sync(bot: Any, guild_id: int | None = None) -> int:
    """Sync now whatever the stored hash says (`opsroom sync-commands`); returns the count.

    `bot` is an OpsroomBot that has logged in (so its cogs are loaded).
    """
    return await _sync(bot.tree, bot.uow_factory, guild_id)

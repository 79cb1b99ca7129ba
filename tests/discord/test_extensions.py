"""Every cog module is a well-formed extension (python-discord's meta-test habit)."""

from __future__ import annotations

import importlib
import inspect

from discord import app_commands

from bot.adapters.discord.client import EXTENSIONS


def test_every_extension_has_an_async_setup():
    """Each module in EXTENSIONS exposes `async def setup(bot)` and nothing else loads cogs."""
    for name in EXTENSIONS:
        module = importlib.import_module(name)
        assert inspect.iscoroutinefunction(module.setup), name


async def test_every_command_has_a_short_description_and_described_options(env):
    """Descriptions fit Discord's 100 characters and every option says what it is for."""
    for command in env.bot.tree.walk_commands():
        if isinstance(command, app_commands.Group):
            continue
        assert 0 < len(command.description) <= 100, command.qualified_name
        for parameter in command.parameters:
            assert parameter.description not in ("", "…"), (command.qualified_name, parameter)

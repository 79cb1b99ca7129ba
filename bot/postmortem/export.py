"""The postmortem draft of one incident as Markdown and as a picture (PNG), for
`opsroom export` and Discord uploads."""

from __future__ import annotations

import asyncio
import re

from bot.core.services import IncidentRef, Services
from bot.postmortem.picture import render_png
from bot.postmortem.render import render_markdown


async def export_markdown(services: Services, guild_id: int, number: int) -> str:
    """Read the incident and render it with the guild's template (or the default).

    Rendering runs in a worker thread: a long timeline takes a moment to render, and the bot's
    event loop must keep answering Discord meanwhile.
    """
    data = await services.postmortem.draft(guild_id, IncidentRef(number=number))
    config = await services.guilds.get(guild_id)
    template = config.postmortem_template if config else None
    return await asyncio.to_thread(render_markdown, data, template_path=template)


async def export_picture(services: Services, guild_id: int, number: int) -> bytes:
    """The incident's picture as PNG bytes, drawn in a worker thread (it takes a moment)."""
    data = await services.postmortem.draft(guild_id, IncidentRef(number=number))
    return await asyncio.to_thread(render_png, data)


def picture_filename(number: int, title: str) -> str:
    """The picture's file name, beside the draft's: `postmortem-12-database-down.png`."""
    return draft_filename(number, title).removesuffix(".md") + ".png"


def draft_filename(number: int, title: str) -> str:
    """A file name for the uploaded draft: `postmortem-12-database-down.md`."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50].rstrip("-")
    return f"postmortem-{number}-{slug or 'incident'}.md"

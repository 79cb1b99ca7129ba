"""Discord's size limits, and helpers that keep text inside them (Discord rejects, never trims)."""

from __future__ import annotations

from collections.abc import Iterable

import discord

CONTENT = 2000
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_AUTHOR = 256
EMBED_TOTAL = 6000
CHOICE_NAME = 100
CHOICES = 25
THREAD_NAME = 100
CHANNEL_NAME = 100

ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def split_text(text: str, limit: int = CONTENT) -> list[str]:
    """Split one long text into pieces of at most `limit`, preferring line and word breaks."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut < limit // 2:
            cut = limit  # one enormous word: a hard cut is the only way
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def pack_lines(lines: Iterable[str], limit: int = CONTENT, *, header: str = "") -> list[str]:
    """Join lines into as few messages as fit in `limit`; a line too long is split itself.

    The header starts the first message only, so a list split over several messages reads
    as one.
    """
    messages: list[str] = []
    current = header
    for line in lines:
        for piece in split_text(line, limit):
            candidate = f"{current}\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
                continue
            if current:
                messages.append(current)
            current = piece
    if current or not messages:
        messages.append(current)
    return messages


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Trim an embed in place so each part and the whole stay within Discord's limits."""
    if embed.title:
        embed.title = truncate(embed.title, EMBED_TITLE)
    if embed.description:
        embed.description = truncate(embed.description, EMBED_DESCRIPTION)
    fields = embed.fields[:EMBED_FIELDS]
    embed.clear_fields()
    for field in fields:
        embed.add_field(
            name=truncate(field.name or "\u200b", FIELD_NAME),
            value=truncate(field.value or "\u200b", FIELD_VALUE),
            inline=bool(field.inline),
        )
    if embed.footer.text:
        embed.set_footer(
            text=truncate(embed.footer.text, EMBED_FOOTER), icon_url=embed.footer.icon_url
        )
    # Still too big in total: shorten the description first (the card keeps its fields),
    # then the longest field values, until it fits.
    excess = len(embed) - EMBED_TOTAL
    if excess > 0 and embed.description:
        keep = max(len(embed.description) - excess, 0)
        embed.description = truncate(embed.description, keep) or None
        excess = len(embed) - EMBED_TOTAL
    while excess > 0 and embed.fields:
        index, field = max(enumerate(embed.fields), key=lambda item: len(item[1].value or ""))
        value = field.value or ""
        keep = max(len(value) - excess, 1)
        embed.set_field_at(
            index,
            name=field.name or "\u200b",
            value=truncate(value, keep) if keep > 1 else ELLIPSIS,
            inline=bool(field.inline),
        )
        new_excess = len(embed) - EMBED_TOTAL
        if new_excess >= excess:  # nothing left to shorten: drop the last field
            embed.remove_field(len(embed.fields) - 1)
            new_excess = len(embed) - EMBED_TOTAL
        excess = new_excess
    return embed

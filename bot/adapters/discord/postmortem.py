"""The postmortem draft as a Discord file: posted on close (`Topic.INCIDENT_CLOSED`) to the
working channel and the operating-room thread, and attached by `/postmortem show`.

Exactly once per close: the core records one INCIDENT_CLOSED event in the unit of work that
closes the incident, the notifier marks it done once both posts went out, and each post
carries a nonce from the event (`ev<id>.0` in the working channel, `ev<id>.1` in the thread),
so a crash between a post and `mark_done` gets the first message back from Discord instead
of a second one. Reopening and closing again is a new event, so a new draft. An event
delivered late (the bot was down) is skipped if the incident was reopened since, or closed
again since (that close's own event posts the draft). The draft is rendered at delivery,
from what is stored then.

Beside the draft goes its picture (`postmortem-N-slug.png`: status phases, milestones, alerts
and pages on one time axis), drawn in a worker thread; a picture that cannot be drawn is
logged and left out, never holding the draft back.

A file stays within Discord's upload limit (`MAX_FILE_BYTES`, 10 MiB by default): a larger
draft is cut at a line and ends with a note naming the `opsroom export` command that gives
the whole of it.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import limits
from bot.adapters.discord.notifier import nonce
from bot.core.errors import ValidationError
from bot.core.events import StoredEvent, Topic
from bot.core.model import Incident, Status
from bot.postmortem.export import (
    draft_filename,
    export_markdown,
    export_picture,
    picture_filename,
)

if TYPE_CHECKING:
    from bot.adapters.discord.client import OpsroomBot
    from bot.adapters.discord.notifier import DiscordNotifier
    from bot.core.services import Services

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
MAX_FILE_BYTES = 10 * 1024 * 1024  # Discord's default upload limit per file
LABEL = 200  # characters of an incident label shown in a message
WORKING_CHANNEL, THREAD = 0, 1  # nonce parts: fixed per place, so a retry reuses its own


@dataclass(frozen=True)
class DraftFile:
    """The draft as bytes ready to upload, and whether it had to be cut to fit."""

    filename: str
    data: bytes
    truncated: bool

    def file(self) -> discord.File:
        """A fresh `discord.File` (one is consumed by each send)."""
        return discord.File(io.BytesIO(self.data), filename=self.filename)


async def draw_picture(services: Services, incident: Incident) -> bytes | None:
    """The incident's picture as PNG bytes, or None (logged) if it cannot be drawn."""
    try:
        return await export_picture(services, incident.guild_id, incident.number)
    except Exception:  # the picture is a bonus: the draft must go out without it
        log.exception("could not draw the picture of %s", incident.label)
        return None


def attachments(
    draft: DraftFile | None, picture: bytes | None, incident: Incident
) -> list[discord.File]:
    """Fresh files for one message: the draft (if it rendered) and the picture (if drawn)."""
    files = [draft.file()] if draft else []
    if picture is not None:
        name = picture_filename(incident.number, incident.title)
        files.append(discord.File(io.BytesIO(picture), filename=name))
    return files


def export_command(incident: Incident) -> str:
    """The command line that writes the whole draft."""
    return f"opsroom export --guild {incident.guild_id} --incident {incident.number}"


def draft_file(markdown: str, incident: Incident) -> DraftFile:
    """`postmortem-N-slug.md` holding the draft, cut at a line to `MAX_FILE_BYTES` if larger."""
    filename = draft_filename(incident.number, incident.title)
    data = markdown.encode()
    limit = MAX_FILE_BYTES
    if len(data) <= limit:
        return DraftFile(filename, data, truncated=False)
    note = (
        "\n\n---\n\n"
        f"> **Draft truncated:** the whole draft is {len(data):,} bytes, more than Discord "
        f"takes in one file ({limit:,} bytes). Get all of it with `{export_command(incident)}`.\n"
    ).encode()
    keep = max(limit - len(note), 0)
    cut = data.rfind(b"\n", 0, keep + 1)
    head = data[: cut if cut > 0 else keep].decode(errors="ignore")  # never half a character
    return DraftFile(filename, head.encode() + note, truncated=True)


def draft_message(incident: Incident, draft: DraftFile, *, closed: bool) -> str:
    """The one line that goes with the file."""
    label = f"**{limits.truncate(incident.label, LABEL)}**"
    if closed:
        text = (
            f"📄 Postmortem draft of {label}, written from the record at close. "
            "Fill in its TODOs with `/postmortem add`."
        )
    else:
        text = f"📄 Postmortem draft of {label} as it stands now."
    if draft.truncated:
        text += f" It was cut to fit one Discord file; all of it: `{export_command(incident)}`."
    return text


def template_failed_message(incident: Incident, error: Exception) -> str:
    """What goes out instead of the file when the guild's template does not render."""
    label = limits.truncate(incident.label, LABEL)
    head = f"⚠️ Could not write the postmortem draft of **{label}**: "
    show = f"/postmortem show incident:{incident.number}"
    tail = f"\nFix the template, then get the draft with `{show}`."
    return head + limits.truncate(str(error), limits.CONTENT - len(head) - len(tail)) + tail


class DraftPoster:
    """The notifier's handler for `Topic.INCIDENT_CLOSED`."""

    def __init__(self, notifier: DiscordNotifier) -> None:
        self.bot: OpsroomBot = notifier.bot
        self.rooms = notifier.rooms

    async def __call__(self, stored: StoredEvent) -> None:
        """Render the draft and post it to the working channel and the operating-room thread."""
        async with self.bot.uow_factory() as uow:
            incident = await uow.incidents.get_by_id(stored.event.subject_id)
        if incident is None:
            log.warning("incident %s of event %s is gone", stored.event.subject_id, stored.id)
            return
        if incident.status is not Status.CLOSED:
            log.info("%s was reopened since event %s; draft not posted", incident.label, stored.id)
            return
        if incident.closed_at is not None and incident.closed_at > stored.created_at:
            log.info(
                "%s was closed again since event %s; draft not posted", incident.label, stored.id
            )
            return
        try:
            markdown = await export_markdown(self.bot.services, incident.guild_id, incident.number)
        except ValidationError as exc:  # the guild's own template does not render
            log.warning("draft of %s not posted: %s", incident.label, exc)
            draft, text = None, template_failed_message(incident, exc)
        else:
            draft = draft_file(markdown, incident)
            text = draft_message(incident, draft, closed=True)
        png = await draw_picture(self.bot.services, incident) if draft else None
        incident = await self.rooms.ensure(incident.guild_id, incident.number)
        places = [(WORKING_CHANNEL, incident.channel_id), (THREAD, incident.room_thread_id)]
        for part, channel_id in places:
            channel = await self._messageable(channel_id)
            if channel is None:
                log.warning("%s: no channel %s for the draft", incident.label, channel_id)
                continue
            try:
                files = attachments(draft, png, incident)
                await channel.send(
                    text,
                    files=files or discord.utils.MISSING,
                    nonce=nonce(stored.id, part),
                    allowed_mentions=NONE,
                )
            except (discord.NotFound, discord.Forbidden) as exc:  # the other place still gets it
                log.warning("draft of %s not posted in %s: %s", incident.label, channel_id, exc)
        log.info("posted the postmortem draft of %s (event %s)", incident.label, stored.id)

    async def _messageable(self, channel_id: int | None) -> discord.abc.Messageable | None:
        """A channel or thread from the cache, else from Discord; None if it is gone."""
        if channel_id is None:
            return None
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except (discord.NotFound, discord.Forbidden):
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None


def register_postmortem(notifier: DiscordNotifier) -> None:
    """Deliver `Topic.INCIDENT_CLOSED` events through the notifier."""
    notifier.register(Topic.INCIDENT_CLOSED, DraftPoster(notifier))

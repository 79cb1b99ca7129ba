"""Messages: create (limits, nonce idempotency, attachments, pings), edit, delete and list;
the create/edit/delete helpers are shared with interaction responses and followups."""

from __future__ import annotations

import mimetypes
import time
from typing import TYPE_CHECKING, Any

from . import limits
from .permissions import (
    ATTACH_FILES,
    MANAGE_MESSAGES,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
)
from .state import Channel, Message, User
from .wire import Call, Reply, Router, Upload, error, no_content, ok

if TYPE_CHECKING:
    from .double import DiscordDouble

router = Router()


def missing_permissions(double: DiscordDouble, channel: Channel, bits: int) -> Reply | None:
    """403 like Discord when the bot lacks ``bits`` in ``channel`` (when enforcement is on)."""
    if not double.enforce_permissions:
        return None
    have = double.world.bot_permissions(channel)
    if not have & VIEW_CHANNEL:
        return error(403, 50001, "Missing Access")
    if bits & ~have:
        return error(403, 50013, "Missing Permissions")
    return None


def message_event(double: DiscordDouble, message: Message) -> dict[str, Any]:
    """MESSAGE_CREATE/UPDATE payload: the message plus guild_id and the author's member."""
    data = message.payload()
    if message.guild_id is not None:
        data["guild_id"] = str(message.guild_id)
        member = double.world.guilds[message.guild_id].members.get(message.author.id)
        if member is not None and message.webhook_id is None:
            data["member"] = member.payload(with_user=False)
    return data


def attachments_for(
    double: DiscordDouble,
    channel_id: int,
    body: dict[str, Any],
    uploads: list[Upload],
    existing: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Attachment objects for uploads (files[n]) plus kept existing ones, as Discord builds them."""
    by_index = {u.field.removeprefix("files[").rstrip("]"): u for u in uploads}
    kept = {a["id"]: a for a in existing}
    wanted = body.get("attachments")
    if wanted is None:
        wanted = [{"id": key} for key in by_index] + [{"id": key} for key in kept]
    result = []
    for item in wanted:
        key = str(item.get("id"))
        if key in kept:
            result.append(kept[key])
        elif key in by_index:
            upload = by_index[key]
            aid = double.world.snowflake()
            url = f"{double.base_url}/attachments/{channel_id}/{aid}/{upload.filename}"
            double.files[aid] = upload.data
            result.append(
                {
                    "id": str(aid),
                    "filename": upload.filename,
                    "size": len(upload.data),
                    "url": url,
                    "proxy_url": url,
                    "description": item.get("description"),
                    "content_type": mimetypes.guess_type(upload.filename)[0]
                    or "application/octet-stream",
                }
            )
    return result


def check_uploads(uploads: list[Upload]) -> Reply | None:
    if any(len(u.data) > limits.FILE_MAX for u in uploads) or (
        sum(len(u.data) for u in uploads) > limits.REQUEST_FILES_MAX
    ):
        return error(413, 40005, "Request entity too large")
    return None


def create_message(
    double: DiscordDouble,
    channel: Channel,
    author: User,
    body: dict[str, Any],
    uploads: list[Upload],
    **fields: Any,
) -> Message | Reply:
    """Validate and store a message, then dispatch MESSAGE_CREATE (ephemeral: stored apart)."""
    body = body or {}
    problems = limits.check_message(body)
    if problems:
        return Reply(400, limits.form_error(problems))
    if limits.is_empty(body, files=len(uploads)):
        return error(400, 50006, "Cannot send an empty message")
    if (too_big := check_uploads(uploads)) is not None:
        return too_big
    flags = int(body.get("flags") or 0)
    values = {
        "content": body.get("content") or "",
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "flags": flags,
        "allowed_mentions": body.get("allowed_mentions"),
        "nonce": body.get("nonce"),
        "message_reference": body.get("message_reference"),
        **fields,
    }
    world = double.world
    if flags & 64:  # ephemeral: only the invoking user sees it; never in the channel
        message = Message(
            id=world.snowflake(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            **values,
        )
        world.messages[message.id] = message
    else:
        message = world.new_message(channel, author, **values)
    message.attachments = attachments_for(double, channel.id, body, uploads, [])
    message.files = [(u.filename, u.data) for u in uploads]
    world.apply_pings(message, can_mention_everyone=world.can_mention_everyone(channel))
    if not message.ephemeral:
        double.gateway.dispatch("MESSAGE_CREATE", message_event(double, message), channel.guild_id)
    return message


def edit_message(
    double: DiscordDouble, message: Message, body: dict[str, Any], uploads: list[Upload]
) -> Reply | None:
    body = body or {}
    problems = limits.check_message(body)
    if problems:
        return Reply(400, limits.form_error(problems))
    if (too_big := check_uploads(uploads)) is not None:
        return too_big
    after = {key: body.get(key, getattr(message, key)) for key in ("content", "embeds")}
    after["components"] = body.get("components", message.components)
    attachments = body.get("attachments", message.attachments)
    if limits.is_empty(after, files=len(attachments or []) + len(uploads)) and not (
        message.flags & 128
    ):
        return error(400, 50006, "Cannot send an empty message")
    message.edits.append(body)
    if "content" in body:
        message.content = body["content"] or ""
    if "embeds" in body:
        message.embeds = body["embeds"] or []
    if "components" in body:
        message.components = body["components"] or []
    if "flags" in body:
        message.flags = int(body["flags"] or 0) | (message.flags & 64)
    if "allowed_mentions" in body:
        message.allowed_mentions = body["allowed_mentions"]
    message.flags &= ~128  # a deferred "thinking" response stops loading when edited
    if "attachments" in body or uploads:
        message.attachments = attachments_for(
            double, message.channel_id, body, uploads, message.attachments
        )
        message.files += [(u.filename, u.data) for u in uploads]
    message.edited_timestamp = time.time()  # pings stay as created: edits notify nobody
    if not message.ephemeral:
        double.gateway.dispatch("MESSAGE_UPDATE", message_event(double, message), message.guild_id)
    return None


def delete_message(double: DiscordDouble, message: Message) -> None:
    message.deleted = True
    if not message.ephemeral:
        payload = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            payload["guild_id"] = str(message.guild_id)
        double.gateway.dispatch("MESSAGE_DELETE", payload, message.guild_id)


def channel_or_404(call: Call) -> Channel | Reply:
    channel = call.double.world.channels.get(call.param("channel_id"))
    if channel is None or channel.deleted:
        return error(404, 10003, "Unknown Channel")
    return channel


def message_or_404(call: Call, channel: Channel) -> Message | Reply:
    message = call.double.world.messages.get(int(call.params["message_id"]))
    if message is None or message.deleted or message.channel_id != channel.id:
        return error(404, 10008, "Unknown Message")
    return message


@router.add("POST", "/channels/{channel_id}/messages")
async def post_message(call: Call) -> Reply:
    double, body = call.double, call.body or {}
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    send = SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES
    refused = missing_permissions(double, channel, send | (ATTACH_FILES if call.files else 0))
    if refused is not None:
        return refused
    nonce = body.get("nonce")
    key = (double.world.bot.id, str(nonce))  # "created by the same author", any channel
    if nonce is not None and body.get("enforce_nonce") and key in double.nonces:
        first_id, at = double.nonces[key]
        if time.monotonic() - at < double.nonce_window:
            first = double.world.messages[first_id]
            if first.deleted:
                return error(404, 10008, "Unknown Message")
            return ok(first.payload())
    message = create_message(double, channel, double.world.bot, body, call.files)
    if isinstance(message, Reply):
        return message
    if nonce is not None and body.get("enforce_nonce"):
        double.nonces[key] = (message.id, time.monotonic())
    return ok(message.payload())


@router.add("GET", "/channels/{channel_id}/messages")
async def list_messages(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    query = call.record.query
    found = call.double.world.messages_in(channel)
    if "before" in query:
        found = [m for m in found if m.id < int(query["before"])]
    if "after" in query:
        found = [m for m in found if m.id > int(query["after"])]
    limit = min(int(query.get("limit", 50)), 100)
    found = found[:limit] if "after" in query else found[-limit:]
    return ok([m.payload() for m in reversed(found)])


@router.add("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    message = message_or_404(call, channel)
    return message if isinstance(message, Reply) else ok(message.payload())


@router.add("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def patch_message(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    message = message_or_404(call, channel)
    if isinstance(message, Reply):
        return message
    if message.author.id != call.double.world.bot.id:
        return error(403, 50005, "Cannot edit a message authored by another user")
    refused = edit_message(call.double, message, call.body, call.files)
    return refused or ok(message.payload())


@router.add("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def remove_message(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    message = message_or_404(call, channel)
    if isinstance(message, Reply):
        return message
    if message.author.id != call.double.world.bot.id:
        refused = missing_permissions(call.double, channel, MANAGE_MESSAGES)
        if refused is not None:
            return refused
    delete_message(call.double, message)
    return no_content()

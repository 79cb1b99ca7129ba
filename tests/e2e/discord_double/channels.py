"""Channels: create (overwrites as ints), edit, delete, permission overwrites (as strings),
typing, pins (the 2.7.1 ``/messages/pins`` routes and the legacy ``/pins`` ones) and threads."""

from __future__ import annotations

import time
from typing import Any

from . import limits
from .messages import channel_or_404, message_event, message_or_404, missing_permissions
from .permissions import (
    ADMINISTRATOR,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    MANAGE_CHANNELS,
    MANAGE_MESSAGES,
    MANAGE_ROLES,
    MANAGE_THREADS,
    PIN_MESSAGES,
    base_permissions,
)
from .state import (
    CATEGORY,
    NEWS,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    TEXT,
    Channel,
    Message,
    Overwrite,
    iso,
)
from .wire import Call, Reply, Router, error, no_content, ok

router = Router()
PINS_MAX = 50


def _text_name(name: str) -> str:
    """Discord lowercases text channel names and turns runs of spaces into dashes."""
    return "-".join(name.lower().split())


def _overwrites(raw: list[dict[str, Any]] | None) -> dict[int, Overwrite]:
    """Overwrites from a body: ids and bits may be ints (create) or strings (edit)."""
    return {
        int(o["id"]): Overwrite(
            int(o["id"]), int(o.get("type", 0)), int(o.get("allow") or 0), int(o.get("deny") or 0)
        )
        for o in raw or []
    }


def _overwrite_refusal(call: Call, have: int, overwrites: list[Overwrite]) -> Reply | None:
    """Without Administrator a bot may only allow or deny permissions it has itself."""
    if not call.double.enforce_permissions or have & ADMINISTRATOR or not overwrites:
        return None
    if not have & MANAGE_ROLES:
        return error(403, 50013, "Missing Permissions")
    if any((o.allow | o.deny) & ~have for o in overwrites):
        return error(403, 50013, "Missing Permissions")
    return None


@router.add("POST", "/guilds/{guild_id}/channels")
async def create_channel(call: Call) -> Reply:
    world, body = call.double.world, call.body or {}
    guild = world.guilds.get(call.param("guild_id"))
    if guild is None:
        return error(404, 10004, "Unknown Guild")
    have = base_permissions(guild, guild.members[world.bot.id])
    if call.double.enforce_permissions and not have & MANAGE_CHANNELS:
        return error(403, 50013, "Missing Permissions")
    kind, name = int(body.get("type") or TEXT), body.get("name") or ""
    if not 1 <= len(name) <= 100:
        return Reply(
            400,
            limits.form_error(
                [(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")]
            ),
        )
    if kind in (TEXT, NEWS):
        name = _text_name(name)
    parent = world.channels.get(int(body["parent_id"])) if body.get("parent_id") else None
    if body.get("parent_id") and (parent is None or parent.type != CATEGORY):
        return Reply(
            400,
            limits.form_error([(("parent_id",), "CHANNEL_PARENT_INVALID_TYPE", "Not a category")]),
        )
    overwrites = _overwrites(body.get("permission_overwrites"))
    if "permission_overwrites" not in body and parent is not None:
        overwrites = dict(parent.overwrites)  # a new channel is synced with its category
    refused = _overwrite_refusal(call, have, list(overwrites.values()))
    if refused is not None:
        return refused
    channel = world.add_channel(
        guild,
        name,
        type=kind,
        parent=parent,
        topic=body.get("topic"),
        overwrites=list(overwrites.values()),
    )
    return ok(channel.payload(), status=201)


def _updated(call: Call, channel: Channel) -> None:
    event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
    call.double.gateway.dispatch(event, channel.payload(), channel.guild_id)


@router.add("GET", "/channels/{channel_id}")
async def get_channel(call: Call) -> Reply:
    channel = channel_or_404(call)
    return channel if isinstance(channel, Reply) else ok(channel.payload())


@router.add("PATCH", "/channels/{channel_id}")
async def edit_channel(call: Call) -> Reply:
    channel, body = channel_or_404(call), call.body or {}
    if isinstance(channel, Reply):
        return channel
    need = MANAGE_THREADS if channel.is_thread else MANAGE_CHANNELS
    if not (channel.is_thread and channel.owner_id == call.double.world.bot.id):
        refused = missing_permissions(call.double, channel, need)
        if refused is not None:
            return refused
    if "permission_overwrites" in body:
        overwrites = _overwrites(body["permission_overwrites"])
        have = call.double.world.bot_permissions(channel)
        refused = _overwrite_refusal(call, have, list(overwrites.values()))
        if refused is not None:
            return refused
        channel.overwrites = overwrites
    renamed = any(k in body and body[k] != getattr(channel, k) for k in ("name", "topic"))
    limit = call.double.rename_limit
    if renamed and limit is not None and not channel.is_thread:
        record = call.record
        too_many = call.double.limiter.sub_limit(
            record.method, record.path, record.route or "", f"rename:{channel.id}", *limit
        )
        if too_many is not None:
            return Reply(too_many.status, too_many.body, too_many.headers)
    for key in ("name", "topic", "position", "archived", "locked", "auto_archive_duration"):
        if key in body:
            setattr(channel, key, body[key])
    if "name" in body and channel.type in (TEXT, NEWS):
        channel.name = _text_name(channel.name)
    if "parent_id" in body:
        channel.parent_id = None if body["parent_id"] is None else int(body["parent_id"])
    _updated(call, channel)
    return ok(channel.payload())


@router.add("DELETE", "/channels/{channel_id}")
async def delete_channel(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    refused = missing_permissions(call.double, channel, MANAGE_CHANNELS)
    if refused is not None:
        return refused
    channel.deleted = True
    event = "THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE"
    call.double.gateway.dispatch(event, channel.payload(), channel.guild_id)
    return ok(channel.payload())


@router.add("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
async def put_overwrite(call: Call) -> Reply:
    channel, body = channel_or_404(call), call.body or {}
    if isinstance(channel, Reply):
        return channel
    target = int(call.params["overwrite_id"])
    overwrite = Overwrite(
        target, int(body.get("type", 0)), int(body.get("allow") or 0), int(body.get("deny") or 0)
    )
    have = call.double.world.bot_permissions(channel)
    refused = _overwrite_refusal(call, have, [overwrite]) or missing_permissions(
        call.double, channel, MANAGE_ROLES
    )
    if refused is not None:
        return refused
    channel.overwrites[target] = overwrite
    _updated(call, channel)
    return no_content()


@router.add("DELETE", "/channels/{channel_id}/permissions/{overwrite_id}")
async def delete_overwrite(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    refused = missing_permissions(call.double, channel, MANAGE_ROLES)
    if refused is not None:
        return refused
    channel.overwrites.pop(int(call.params["overwrite_id"]), None)
    _updated(call, channel)
    return no_content()


@router.add("POST", "/channels/{channel_id}/typing")
async def typing(call: Call) -> Reply:
    channel = channel_or_404(call)
    return channel if isinstance(channel, Reply) else no_content()


@router.add("GET", "/channels/{channel_id}/messages/pins")
async def list_pins(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    pinned = [m for m in call.double.world.messages_in(channel) if m.pinned][::-1]
    items = [{"pinned_at": m.payload()["timestamp"], "message": m.payload()} for m in pinned]
    return ok({"items": items, "has_more": False})


@router.add("GET", "/channels/{channel_id}/pins")
async def list_pins_legacy(call: Call) -> Reply:
    reply = await list_pins(call)
    if reply.status != 200:
        return reply
    return ok([item["message"] for item in reply.body["items"]])


async def _pin(call: Call, pinned: bool) -> Reply:
    double = call.double
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    message = message_or_404(call, channel)
    if isinstance(message, Reply):
        return message
    have = double.world.bot_permissions(channel)
    if double.enforce_permissions and not have & (PIN_MESSAGES | MANAGE_MESSAGES):
        return error(403, 50013, "Missing Permissions")
    if pinned and not message.pinned:
        if sum(m.pinned for m in double.world.messages_in(channel)) >= PINS_MAX:
            return error(400, 30003, "Maximum number of pins reached (50)")
        message.pinned = True
        double.gateway.dispatch("MESSAGE_UPDATE", message_event(double, message), channel.guild_id)
        notice = double.world.new_message(
            channel,
            double.world.bot,
            type=6,
            message_reference={
                "message_id": str(message.id),
                "channel_id": str(channel.id),
                "guild_id": str(channel.guild_id),
            },
        )
        double.gateway.dispatch("MESSAGE_CREATE", message_event(double, notice), channel.guild_id)
    elif not pinned and message.pinned:
        message.pinned = False
        double.gateway.dispatch("MESSAGE_UPDATE", message_event(double, message), channel.guild_id)
    double.gateway.dispatch(
        "CHANNEL_PINS_UPDATE",
        {
            "guild_id": str(channel.guild_id),
            "channel_id": str(channel.id),
            "last_pin_timestamp": iso(time.time()),
        },
        channel.guild_id,
    )
    return no_content()


@router.add("PUT", "/channels/{channel_id}/messages/pins/{message_id}")
async def pin(call: Call) -> Reply:
    return await _pin(call, True)


@router.add("DELETE", "/channels/{channel_id}/messages/pins/{message_id}")
async def unpin(call: Call) -> Reply:
    return await _pin(call, False)


@router.add("PUT", "/channels/{channel_id}/pins/{message_id}")
async def pin_legacy(call: Call) -> Reply:
    return await _pin(call, True)


@router.add("DELETE", "/channels/{channel_id}/pins/{message_id}")
async def unpin_legacy(call: Call) -> Reply:
    return await _pin(call, False)


@router.add("POST", "/channels/{channel_id}/messages/{message_id}/threads")
async def thread_from_message(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    message = message_or_404(call, channel)
    if isinstance(message, Reply):
        return message
    if message.thread_id is not None:
        return error(400, 160004, "A thread has already been created for this message")
    refused = missing_permissions(call.double, channel, CREATE_PUBLIC_THREADS)
    if refused is not None:
        return refused
    return _start_thread(call, channel, PUBLIC_THREAD, thread_id=message.id, starter=message)


@router.add("POST", "/channels/{channel_id}/threads")
async def thread_without_message(call: Call) -> Reply:
    channel = channel_or_404(call)
    if isinstance(channel, Reply):
        return channel
    kind = int((call.body or {}).get("type") or PRIVATE_THREAD)
    bits = CREATE_PUBLIC_THREADS if kind == PUBLIC_THREAD else CREATE_PRIVATE_THREADS
    refused = missing_permissions(call.double, channel, bits)
    return refused or _start_thread(call, channel, kind)


def _start_thread(
    call: Call,
    parent: Channel,
    kind: int,
    *,
    thread_id: int | None = None,
    starter: Message | None = None,
) -> Reply:
    body = call.body or {}
    name = body.get("name") or ""
    if not 1 <= len(name) <= 100:
        return Reply(
            400,
            limits.form_error(
                [(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")]
            ),
        )
    world = call.double.world
    thread = world.add_channel(
        world.guild_of(parent),
        name,
        type=kind,
        parent=parent,
        owner=world.bot,
        id=thread_id,
        emit=False,
    )
    thread.auto_archive_duration = int(body.get("auto_archive_duration") or 1440)
    created = {**thread.payload(), "newly_created": True}
    call.double.gateway.dispatch("THREAD_CREATE", created, parent.guild_id)
    if starter is not None:
        starter.thread_id = thread.id
    elif kind == PUBLIC_THREAD:
        notice = world.new_message(parent, world.bot, type=18, content=name)
        call.double.gateway.dispatch(
            "MESSAGE_CREATE", message_event(call.double, notice), parent.guild_id
        )
    return ok(thread.payload(), status=201)

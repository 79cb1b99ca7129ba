"""Guild scheduled events (external ones, as maintenance windows use) and publishing a
message of an announcement channel to its followers ("crosspost"), with Discord's limits:
an external event needs a location and an end after a start in the future; a channel may
publish about 10 messages an hour; a message is published once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from .state import iso
from .wire import Call, Reply, Router, error, no_content, ok

router = Router()

ANNOUNCEMENT = 5
EXTERNAL = 3
CROSSPOSTED = 1 << 0
PUBLISH_LIMIT = (10, 3600.0)  # per channel, per window (Discord's "about 10 an hour")


def _when(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).timestamp()
    except ValueError:
        return None


@router.add("POST", "/guilds/{guild_id}/scheduled-events")
async def create_event(call: Call) -> Reply:
    world = call.double.world
    guild = world.guilds.get(call.param("guild_id"))
    if guild is None:
        return error(404, 10004, "Unknown Guild")
    body = call.body or {}
    start, end = _when(body.get("scheduled_start_time")), _when(body.get("scheduled_end_time"))
    location = (body.get("entity_metadata") or {}).get("location")
    if body.get("entity_type") != EXTERNAL:
        return error(400, 50035, "Invalid Form Body (only external events are modelled)")
    if not body.get("name") or not location or start is None or end is None:
        return error(400, 50035, "Invalid Form Body (name, location, start and end needed)")
    if start < time.time() or end <= start:
        return error(400, 50035, "Invalid Form Body (start in the past or end before start)")
    event = {
        "id": str(world.snowflake()),
        "guild_id": str(guild.id),
        "channel_id": None,
        "creator_id": str(world.bot.id),
        "name": body["name"],
        "description": body.get("description"),
        "scheduled_start_time": iso(start),
        "scheduled_end_time": iso(end),
        "privacy_level": body.get("privacy_level", 2),
        "status": 1,
        "entity_type": EXTERNAL,
        "entity_id": None,
        "entity_metadata": {"location": location},
        "user_count": 0,
    }
    call.double.scheduled_events[int(event["id"])] = event
    return ok(event)


def _event(call: Call) -> dict[str, Any] | None:
    event = call.double.scheduled_events.get(call.param("event_id"))
    if event is None or event["guild_id"] != call.params["guild_id"]:
        return None
    return event


@router.add("GET", "/guilds/{guild_id}/scheduled-events/{event_id}")
async def get_event(call: Call) -> Reply:
    event = _event(call)
    return error(404, 10070, "Unknown Guild Scheduled Event") if event is None else ok(event)


@router.add("DELETE", "/guilds/{guild_id}/scheduled-events/{event_id}")
async def delete_event(call: Call) -> Reply:
    event = _event(call)
    if event is None:
        return error(404, 10070, "Unknown Guild Scheduled Event")
    del call.double.scheduled_events[int(event["id"])]
    return no_content()


@router.add("POST", "/channels/{channel_id}/messages/{message_id}/crosspost")
async def crosspost(call: Call) -> Reply:
    world = call.double.world
    channel = world.channels.get(call.param("channel_id"))
    message = world.messages.get(call.param("message_id"))
    if channel is None or message is None or message.channel_id != channel.id:
        return error(404, 10008, "Unknown Message")
    if channel.type != ANNOUNCEMENT:
        return error(400, 50024, "Cannot execute action on this channel type")
    if message.flags & CROSSPOSTED:
        return error(400, 40033, "This message has already been crossposted.")
    now = time.time()
    count, window = PUBLISH_LIMIT
    recent = [t for t in call.double.crossposts.get(channel.id, []) if t > now - window]
    if len(recent) >= count:
        retry = recent[0] + window - now
        return Reply(
            429,
            {"message": "You are being rate limited.", "retry_after": retry, "global": False},
            {"Via": "1.1 google", "Retry-After": str(int(retry))},
        )
    call.double.crossposts.setdefault(channel.id, []).append(now)
    message.flags |= CROSSPOSTED
    return ok(message.payload())

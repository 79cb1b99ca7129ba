"""Interactions: the record of each one, the callback (3 s deadline, one acknowledgement) and
the webhook followup routes behind the interaction token."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import limits
from .messages import create_message, delete_message, edit_message, message_event
from .state import Channel, Message, User
from .wire import Call, Reply, Router, error, no_content, ok

if TYPE_CHECKING:
    from .double import DiscordDouble

router = Router()
MESSAGE_WITH_SOURCE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
# Which callback types each interaction type accepts (command, component, autocomplete, modal).
ALLOWED_RESPONSES = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


@dataclass
class InteractionRecord:
    """One interaction and everything the bot answered to it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    channel: Channel
    user: User
    source_message: Message | None = None  # the clicked message (components)
    created: float = field(default_factory=time.monotonic)
    callback: dict[str, Any] | None = None
    callback_at: float | None = None
    refused: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # late or repeated
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    last_activity: float = field(default_factory=time.monotonic)

    @property
    def response_type(self) -> int | None:
        return None if self.callback is None else self.callback.get("type")

    @property
    def data(self) -> dict[str, Any]:
        """The callback's data (message fields, modal, or autocomplete choices)."""
        return {} if self.callback is None else self.callback.get("data") or {}

    @property
    def latency(self) -> float | None:
        return None if self.callback_at is None else self.callback_at - self.created

    @property
    def thinking(self) -> bool:
        """Deferred with a "thinking" message the user watches until the bot fills it."""
        return self.response_type == DEFERRED_MESSAGE

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & 64)

    @property
    def answered(self) -> bool:
        """Acknowledged and, after a thinking deferral, followed by an edit or a followup."""
        if self.callback is None:
            return False
        if not self.thinking:
            return True
        edited = self.original is not None and bool(self.original.edits)
        return edited or bool(self.followups)

    def messages(self) -> list[Message]:
        return [m for m in [self.original, *self.followups] if m is not None]


# -- the callback and the followup webhook ----------------------------------------------


def _thinking(
    double: DiscordDouble, record: InteractionRecord, ephemeral: int, meta: dict[str, Any]
) -> Message:
    """The "is thinking…" message a deferral shows until the bot edits @original."""
    world = double.world
    fields: dict[str, Any] = {
        "type": 20,
        "flags": 128 | ephemeral,
        "interaction_metadata": meta,
        "webhook_id": world.application_id,
    }
    if ephemeral:
        message = Message(
            id=world.snowflake(),
            channel_id=record.channel.id,
            guild_id=record.channel.guild_id,
            author=world.bot,
            **fields,
        )
        world.messages[message.id] = message
        return message
    message = world.new_message(record.channel, world.bot, **fields)
    double.gateway.dispatch(
        "MESSAGE_CREATE", message_event(double, message), record.channel.guild_id
    )
    return message


def _record(call: Call) -> InteractionRecord | None:
    record = call.double.interactions.get(int(call.params["webhook_id"]))
    if record is None or record.token != call.params["webhook_token"]:
        return None
    return record


@router.add(
    "POST", "/interactions/{webhook_id}/{webhook_token}/callback", public=True, global_exempt=True
)
async def callback(call: Call) -> Reply:
    double, body = call.double, call.body or {}
    record = _record(call)
    if record is None:
        return error(404, 10062, "Unknown interaction")
    if record.callback is not None:
        record.refused.append((400, body))
        return error(400, 40060, "Interaction has already been acknowledged.")
    if time.monotonic() - record.created > double.interaction_deadline:
        record.refused.append((404, body))
        return error(404, 10062, "Unknown interaction")
    kind, data = int(body.get("type", 0)), body.get("data") or {}
    if kind not in ALLOWED_RESPONSES.get(record.type, ()):
        problem = (("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")
        return Reply(400, limits.form_error([problem]))
    if kind == AUTOCOMPLETE_RESULT and len(data.get("choices") or []) > 25:
        return Reply(400, limits.form_error([limits.too_long(("data", "choices"), 25)]))
    message: Message | None = None
    meta = {
        "id": str(record.id),
        "type": record.type,
        "user": record.user.payload(),
        "authorizing_integration_owners": record.payload["authorizing_integration_owners"],
    }
    if kind == MESSAGE_WITH_SOURCE:
        created = create_message(
            double,
            record.channel,
            double.world.bot,
            data,
            call.files,
            type=20 if record.type == 2 else 0,
            webhook_id=double.world.application_id,
            interaction_metadata=meta,
        )
        if isinstance(created, Reply):
            return created
        message = created
    elif kind == DEFERRED_MESSAGE:
        message = _thinking(double, record, int(data.get("flags") or 0) & 64, meta)
    elif kind in (UPDATE_MESSAGE, DEFERRED_UPDATE) and record.source_message is None:
        problem = (("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "No message to update")
        return Reply(400, limits.form_error([problem]))
    elif kind == UPDATE_MESSAGE and record.source_message is not None:
        refused = edit_message(double, record.source_message, data, call.files)
        if refused is not None:
            return refused
        message = record.source_message
    elif kind == DEFERRED_UPDATE:
        message = record.source_message
    record.callback, record.callback_at = body, time.monotonic()
    record.original = message
    record.last_activity = time.monotonic()
    if call.record.query.get("with_response") not in ("1", "true", "True"):
        return no_content()
    interaction: dict[str, Any] = {
        "id": str(record.id),
        "type": record.type,
        "response_message_loading": kind == DEFERRED_MESSAGE,
        "response_message_ephemeral": bool(int(data.get("flags") or 0) & 64),
    }
    answer: dict[str, Any] = {"interaction": interaction}
    if message is not None:
        interaction["response_message_id"] = str(message.id)
        answer["resource"] = {"type": kind, "message": message.payload()}
    else:
        answer["resource"] = {"type": kind}
    return ok(answer)


def _webhook_record(call: Call) -> InteractionRecord | Reply:
    double = call.double
    if int(call.params["webhook_id"]) != double.world.application_id:
        return error(404, 10015, "Unknown Webhook")
    token = call.params["webhook_token"]
    record = next((r for r in double.interactions.values() if r.token == token), None)
    if record is None or record.callback is None:
        return error(404, 10015, "Unknown Webhook")
    if time.monotonic() - record.created > double.token_lifetime:
        return error(401, 50027, "Invalid Webhook Token")
    record.last_activity = time.monotonic()
    return record


@router.add("POST", "/webhooks/{webhook_id}/{webhook_token}", public=True, global_exempt=True)
async def followup(call: Call) -> Reply:
    record = _webhook_record(call)
    if isinstance(record, Reply):
        return record
    double = call.double
    channel = record.channel
    if "thread_id" in call.record.query:
        channel = double.world.channels[int(call.record.query["thread_id"])]
    original = record.original
    if (
        record.response_type == DEFERRED_MESSAGE
        and original is not None
        and original.flags & 128
        and not record.followups
    ):
        # The first followup after a deferral replaces the "thinking" message (keeping the
        # deferral's ephemeral flag) instead of posting a new one; being an edit, it pings
        # nobody.
        body = {k: v for k, v in (call.body or {}).items() if k != "flags"}
        refused = edit_message(double, original, body, call.files)
        if refused is not None:
            return refused
        message = original
    else:
        created = create_message(
            double,
            channel,
            double.world.bot,
            call.body or {},
            call.files,
            webhook_id=double.world.application_id,
        )
        if isinstance(created, Reply):
            return created
        message = created
    record.followups.append(message)
    wait = call.record.query.get("wait") in ("1", "true", "True")
    return ok(message.payload()) if wait else no_content()


def _target(call: Call, record: InteractionRecord) -> Message | Reply:
    key = call.params["message_id"]
    if key == "@original":
        found = record.original
    else:
        found = next((m for m in record.messages() if m.id == int(key)), None)
    if found is None or found.deleted:
        return error(404, 10008, "Unknown Message")
    return found


@router.add(
    "GET",
    "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    public=True,
    global_exempt=True,
)
async def get_followup(call: Call) -> Reply:
    record = _webhook_record(call)
    if isinstance(record, Reply):
        return record
    message = _target(call, record)
    return message if isinstance(message, Reply) else ok(message.payload())


@router.add(
    "PATCH",
    "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    public=True,
    global_exempt=True,
)
async def edit_followup(call: Call) -> Reply:
    record = _webhook_record(call)
    if isinstance(record, Reply):
        return record
    message = _target(call, record)
    if isinstance(message, Reply):
        return message
    refused = edit_message(call.double, message, call.body or {}, call.files)
    return refused or ok(message.payload())


@router.add(
    "DELETE",
    "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    public=True,
    global_exempt=True,
)
async def delete_followup(call: Call) -> Reply:
    record = _webhook_record(call)
    if isinstance(record, Reply):
        return record
    message = _target(call, record)
    if isinstance(message, Reply):
        return message
    delete_message(call.double, message)
    return no_content()

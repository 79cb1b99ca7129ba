"""INTERACTION_CREATE payloads as Discord builds them: from the registered command's schema
(options typed, ``data.resolved`` filled, ``data.guild_id`` for guild commands), from a
message's components (clicks), or from a modal the bot opened (submissions)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .permissions import ADMINISTRATOR, channel_permissions
from .state import Channel, Guild, Member, Message, User
from .world import snowflake_of

if TYPE_CHECKING:
    from .double import DiscordDouble

APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def base_payload(double: DiscordDouble, kind: int, channel: Channel, user: User) -> dict[str, Any]:
    world = double.world
    guild = world.guild_of(channel)
    member = guild.members.get(user.id)
    if member is None:
        raise ValueError(f"{user.username} is not a member of {guild.name}")
    perms = channel_permissions(guild, channel, member)
    return {
        "id": str(world.snowflake()),
        "application_id": str(world.application_id),
        "type": kind,
        "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
        "version": 1,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel.id),
        "channel": {**channel.payload(), "permissions": str(perms)},
        "member": {**member.payload(), "permissions": str(perms)},
        "app_permissions": str(world.bot_permissions(channel)),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "context": 0,
        "authorizing_integration_owners": {"0": str(guild.id)},
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }


def _resolve(
    double: DiscordDouble,
    guild: Guild,
    channel: Channel,
    invoker: Member,
    option: dict[str, Any],
    value: Any,
    resolved: dict[str, dict[str, Any]],
) -> Any:
    """Option value as Discord sends it, filling ``data.resolved`` for users/roles/channels."""
    world, otype = double.world, option["type"]
    if otype in (3, 4, 5, 10):
        sent = {3: str, 4: int, 5: bool, 10: float}[otype](value)
        low, high = option.get("min_value"), option.get("max_value")
        if otype == 3:
            low, high, size = option.get("min_length"), option.get("max_length"), len(sent)
        else:
            size = sent
        if (low is not None and size < low) or (high is not None and size > high):
            raise ValueError(f"{option['name']}={sent!r} is outside [{low}, {high}]")
        return sent
    if otype == 11:  # attachment: give (filename, bytes)
        filename, data = value
        aid = world.snowflake()
        double.files[aid] = data
        url = f"{double.base_url}/attachments/{channel.id}/{aid}/{filename}"
        resolved.setdefault("attachments", {})[str(aid)] = {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": "application/octet-stream",
            "ephemeral": True,
        }
        return str(aid)
    key = str(snowflake_of(value))
    ident = int(key)
    if otype in (6, 9) and ident in world.users:
        resolved.setdefault("users", {})[key] = world.users[ident].payload()
        member = guild.members.get(ident)
        if member is not None:
            perms = channel_permissions(guild, channel, member)
            resolved.setdefault("members", {})[key] = {
                **member.payload(with_user=False),
                "permissions": str(perms),
            }
        return key
    if otype in (8, 9) and ident in guild.roles:
        resolved.setdefault("roles", {})[key] = guild.roles[ident].payload()
        return key
    if otype == 7 and ident in world.channels:
        target = world.channels[ident]
        kinds = option.get("channel_types")
        if kinds and target.type not in kinds:
            raise ValueError(f"#{target.name} (type {target.type}) is not one of {kinds}")
        resolved.setdefault("channels", {})[key] = {
            **target.payload(),
            "permissions": str(channel_permissions(guild, target, invoker)),
        }
        return key
    raise ValueError(f"cannot resolve {value!r} for option {option['name']} (type {otype})")


def build_options(
    double: DiscordDouble,
    guild: Guild,
    channel: Channel,
    invoker: Member,
    schema: list[dict[str, Any]],
    given: dict[str, Any],
    resolved: dict[str, dict[str, Any]],
    *,
    focused: str | None = None,
) -> list[dict[str, Any]]:
    by_name = {o["name"]: o for o in schema}
    unknown = set(given) - set(by_name)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; the command has {sorted(by_name)}")
    missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given]
    if missing and focused is None:
        raise ValueError(f"required options missing: {missing}")
    built = []
    for name, value in given.items():
        option = by_name[name]
        if name == focused:
            built.append(
                {"name": name, "type": option["type"], "value": str(value), "focused": True}
            )
            continue
        sent = _resolve(double, guild, channel, invoker, option, value, resolved)
        choices = [c["value"] for c in option.get("choices") or []]
        if choices and sent not in choices:
            raise ValueError(f"{name}={sent!r} is not one of the choices {choices}")
        built.append({"name": name, "type": option["type"], "value": sent})
    return built


def check_invocable(
    guild: Guild, channel: Channel, member: Member, command: dict[str, Any]
) -> None:
    """Discord hides a command from members without its default_member_permissions."""
    raw = command.get("default_member_permissions")
    if raw is None:
        return
    perms = channel_permissions(guild, channel, member)
    needed = int(raw) or ADMINISTRATOR  # "0": administrators only
    if perms & needed != needed:
        raise PermissionError(
            f"{member.user.username} cannot use /{command['name']}: "
            f"default_member_permissions={raw}"
        )


def _sub_schema(
    command: dict[str, Any], group: str | None, subcommand: str | None
) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    schema, path = command.get("options") or [], []
    for otype, name in ((2, group), (1, subcommand)):
        if name is None:
            continue
        match = [o for o in schema if o["type"] == otype and o["name"] == name]
        if not match:
            raise ValueError(
                f"/{command['name']} has no {'group' if otype == 2 else 'sub'}command {name!r}"
            )
        schema, path = match[0].get("options") or [], [*path, (otype, name)]
    return schema, path


def slash_payload(
    double: DiscordDouble,
    channel: Channel,
    user: User,
    name: str,
    *,
    group: str | None,
    subcommand: str | None,
    options: dict[str, Any],
    focused: str | None = None,
) -> dict[str, Any]:
    world = double.world
    guild = world.guild_of(channel)
    command = world.find_command(guild.id, name, 1)
    schema, path = _sub_schema(command, group, subcommand)
    resolved: dict[str, dict[str, Any]] = {}
    invoker = guild.members.get(user.id)
    if invoker is None:
        raise ValueError(f"{user.username} is not a member of {guild.name}")
    check_invocable(guild, channel, invoker, command)
    built = build_options(
        double, guild, channel, invoker, schema, options, resolved, focused=focused
    )
    for otype, pname in reversed(path):
        built = [{"type": otype, "name": pname, "options": built}]
    data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": built}
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    if resolved:
        data["resolved"] = resolved
    kind = AUTOCOMPLETE if focused else APPLICATION_COMMAND
    return {**base_payload(double, kind, channel, user), "data": data}


def message_command_payload(
    double: DiscordDouble, channel: Channel, user: User, name: str, target: Message
) -> dict[str, Any]:
    command = double.world.find_command(channel.guild_id, name, 3)
    guild = double.world.guild_of(channel)
    invoker = guild.members.get(user.id)
    if invoker is None:
        raise ValueError(f"{user.username} is not a member of {guild.name}")
    check_invocable(guild, channel, invoker, command)
    data: dict[str, Any] = {
        "id": command["id"],
        "name": name,
        "type": 3,
        "target_id": str(target.id),
        "resolved": {"messages": {str(target.id): target.payload()}},
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return {**base_payload(double, APPLICATION_COMMAND, channel, user), "data": data}


def find_component(message: Message, custom_id: str) -> dict[str, Any]:
    stack = list(message.components)
    while stack:
        item = stack.pop()
        if item.get("custom_id") == custom_id:
            if item.get("disabled"):
                raise ValueError(f"component {custom_id!r} is disabled: nobody can click it")
            return item
        stack += item.get("components") or []
        stack += [item[k] for k in ("component", "accessory") if isinstance(item.get(k), dict)]
    raise LookupError(
        f"message {message.id} has no component {custom_id!r}; it has {message.custom_ids()}"
    )


def modal_components(modal: dict[str, Any], values: dict[str, str]) -> list[dict[str, Any]]:
    """A modal submission mirroring the modal's layout (rows or labels around text inputs)."""

    def convert(item: dict[str, Any]) -> dict[str, Any]:
        if item.get("type") == 1:
            return {"type": 1, "components": [convert(c) for c in item.get("components", [])]}
        if item.get("type") == 18:
            return {"type": 18, "component": convert(item["component"])}
        custom_id = item.get("custom_id")
        value = values.get(custom_id, item.get("value") or "")
        if item.get("required", True) and item.get("type") == 4 and not value:
            raise ValueError(f"text input {custom_id!r} is required")
        return {"type": item.get("type"), "custom_id": custom_id, "value": value}

    return [convert(c) for c in modal.get("components", [])]

"""The registry of everything the double knows, with builders for tests and the mention rules."""

from __future__ import annotations

import re
from typing import Any

from .permissions import BOT_DEFAULT, EVERYONE_DEFAULT, MENTION_EVERYONE, channel_permissions
from .state import (
    TEXT,
    Channel,
    Guild,
    Member,
    Message,
    Overwrite,
    Role,
    Snowflakes,
    User,
)

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")


def snowflake_of(value: Any) -> int:
    """Accept a record (with .id), an int or a numeric string."""
    return int(getattr(value, "id", value))


class World:
    """Users, guilds, channels, messages and registered commands, keyed by snowflake."""

    def __init__(self, *, token: str, bot_name: str = "opsroom") -> None:
        self.snowflake = Snowflakes()
        self.token = token
        self.application_id = self.snowflake()
        # Modern applications share their id with their bot user.
        self.bot = User(id=self.application_id, username=bot_name, bot=True)
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.channel_messages: dict[int, list[Message]] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self.on_change: Any = None  # set by the double: called with (event, payload, guild_id)
        self._quiet = False

    # -- builders ---------------------------------------------------------------------------

    def _emit(self, event: str, payload: dict[str, Any], guild_id: int | None) -> None:
        if self.on_change is not None and not self._quiet:
            self.on_change(event, payload, guild_id)

    def add_user(self, username: str, *, bot: bool = False) -> User:
        user = User(id=self.snowflake(), username=username, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, owner: User, *, bot_permissions: int = BOT_DEFAULT) -> Guild:
        """A guild with @everyone, the owner, and the bot holding a managed role."""
        guild = Guild(id=self.snowflake(), name=name, owner_id=owner.id)
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", EVERYONE_DEFAULT)
        self.guilds[guild.id] = guild
        self._quiet = True
        try:
            bot_role = self.add_role(guild, self.bot.username, bot_permissions, managed=True)
            self.add_member(guild, owner)
            self.add_member(guild, self.bot, roles=[bot_role])
        finally:
            self._quiet = False
        self._emit("GUILD_CREATE", guild.payload(), guild.id)
        return guild

    def add_role(
        self,
        guild: Guild,
        name: str,
        permissions: int = 0,
        *,
        mentionable: bool = False,
        managed: bool = False,
    ) -> Role:
        role = Role(
            self.snowflake(),
            guild.id,
            name,
            permissions,
            position=len(guild.roles),
            managed=managed,
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        self._emit(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}, guild.id
        )
        return role

    def add_member(self, guild: Guild, user: User, *, roles: list[Role] | None = None) -> Member:
        member = Member(user=user, guild_id=guild.id, roles=[r.id for r in roles or []])
        guild.members[user.id] = member
        self._emit("GUILD_MEMBER_ADD", {**member.payload(), "guild_id": str(guild.id)}, guild.id)
        return member

    def add_channel(
        self,
        guild: Guild,
        name: str,
        *,
        type: int = TEXT,
        parent: Channel | None = None,
        topic: str | None = None,
        overwrites: list[Overwrite] | None = None,
        owner: User | None = None,
        id: int | None = None,
        emit: bool = True,
    ) -> Channel:
        channel = Channel(
            id=id or self.snowflake(),
            guild_id=guild.id,
            type=type,
            name=name,
            position=len(guild.channels),
            parent_id=None if parent is None else parent.id,
            topic=topic,
            overwrites={o.id: o for o in overwrites or []},
            owner_id=None if owner is None else owner.id,
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.channel_messages[channel.id] = []
        if emit:
            event = "THREAD_CREATE" if channel.is_thread else "CHANNEL_CREATE"
            payload = channel.payload()
            if channel.is_thread:
                payload["newly_created"] = True
            self._emit(event, payload, guild.id)
        return channel

    # -- lookups ----------------------------------------------------------------------------

    def guild_of(self, channel: Channel) -> Guild:
        return self.guilds[channel.guild_id]

    def member(self, guild: Guild, user: Any) -> Member | None:
        return guild.members.get(snowflake_of(user))

    def bot_permissions(self, channel: Channel) -> int:
        guild = self.guild_of(channel)
        return channel_permissions(guild, channel, guild.members[self.bot.id])

    def messages_in(self, channel: Any, *, include_deleted: bool = False) -> list[Message]:
        """Messages of a channel in creation order (deleted ones only when asked)."""
        found = self.channel_messages.get(snowflake_of(channel), [])
        return [m for m in found if include_deleted or not m.deleted]

    def find_channel(self, name: str) -> Channel:
        for channel in self.channels.values():
            if channel.name == name and not channel.deleted:
                return channel
        raise KeyError(f"no channel named {name!r}")

    # -- messages ---------------------------------------------------------------------------

    def new_message(self, channel: Channel, author: User, **fields: Any) -> Message:
        message = Message(
            id=self.snowflake(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            **fields,
        )
        self.messages[message.id] = message
        self.channel_messages.setdefault(channel.id, []).append(message)
        channel.last_message_id = message.id
        channel.message_count += 1
        return message

    def apply_pings(self, message: Message, *, can_mention_everyone: bool) -> None:
        """Who the message really pings, by Discord's allowed_mentions rules.

        Without allowed_mentions everything in the text pings (@everyone and roles only with
        the right permission or a mentionable role); with it, only what it parses or lists.
        """
        guild = self.guilds.get(message.guild_id or 0)
        allowed = message.allowed_mentions
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            users: set[int] = set()
            roles: set[int] = set()
        else:
            parse = set(allowed.get("parse") or [])
            users = {int(u) for u in allowed.get("users") or []}
            roles = {int(r) for r in allowed.get("roles") or []}
        text = message.content or ""
        pinged_users = list(
            dict.fromkeys(
                int(u) for u in USER_MENTION.findall(text) if "users" in parse or int(u) in users
            )
        )
        pinged_roles = []
        for raw in dict.fromkeys(ROLE_MENTION.findall(text)):
            role = None if guild is None else guild.roles.get(int(raw))
            listed = "roles" in parse or int(raw) in roles
            if role is not None and listed and (role.mentionable or can_mention_everyone):
                pinged_roles.append(role.id)
        message.pinged_users = pinged_users
        message.mentions = [self.users[u].payload() for u in pinged_users if u in self.users]
        message.pinged_roles = pinged_roles
        message.pinged_everyone = (
            ("@everyone" in text or "@here" in text)
            and "everyone" in parse
            and can_mention_everyone
        )

    def can_mention_everyone(self, channel: Channel) -> bool:
        return bool(self.bot_permissions(channel) & MENTION_EVERYONE)

    # -- application commands ---------------------------------------------------------------

    def register_commands(
        self, guild_id: int | None, commands: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Bulk overwrite: ids stay stable per (scope, type, name), as on Discord."""
        stored = []
        for command in commands:
            ctype = int(command.get("type", 1))
            key = (guild_id, ctype, command["name"])
            cid = self._command_ids.setdefault(key, self.snowflake())
            stored.append(
                {
                    **command,
                    "id": str(cid),
                    "type": ctype,
                    "application_id": str(self.application_id),
                    "guild_id": None if guild_id is None else str(guild_id),
                    "version": str(self.snowflake()),
                    "description": command.get("description", ""),
                    "default_member_permissions": command.get("default_member_permissions"),
                }
            )
        if guild_id is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild_id] = stored
        return stored

    def find_command(self, guild_id: int | None, name: str, ctype: int) -> dict[str, Any]:
        """The registered command a user could invoke in this guild (guild first, then global)."""
        scopes = [] if guild_id is None else [self.guild_commands.get(guild_id, [])]
        for commands in [*scopes, self.global_commands]:
            for command in commands:
                if command["name"] == name and command["type"] == ctype:
                    return command
        raise LookupError(f"command {name!r} (type {ctype}) is not registered; was it synced?")

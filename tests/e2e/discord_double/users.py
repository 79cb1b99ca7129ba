"""Acting as Discord users: messages, slash commands, autocomplete, clicks, context menus
and modal submissions, each dispatched as Discord would and awaited until answered."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import messages, payloads
from .interactions import MODAL, InteractionRecord
from .permissions import MENTION_EVERYONE, channel_permissions
from .state import Channel, Message, User
from .world import snowflake_of

if TYPE_CHECKING:
    from .double import DiscordDouble


class Users:
    """Mixed into DiscordDouble: the helpers tests use to play guild members."""

    def post_message(
        self: DiscordDouble, channel: Any, user: Any, content: str = "", **fields: Any
    ) -> Message:
        """A member writes in a channel: stored and dispatched as MESSAGE_CREATE."""
        channel, user = self.channel(channel), self.user(user)
        guild = self.world.guild_of(channel)
        member = guild.members[user.id]
        message = self.world.new_message(channel, user, content=content, **fields)
        perms = channel_permissions(guild, channel, member)
        self.world.apply_pings(message, can_mention_everyone=bool(perms & MENTION_EVERYONE))
        self.gateway.dispatch("MESSAGE_CREATE", messages.message_event(self, message), guild.id)
        self.notify()
        return message

    async def interact(
        self: DiscordDouble,
        payload: dict[str, Any],
        channel: Channel,
        user: User,
        *,
        source_message: Message | None = None,
        wait: bool = True,
        within: float = 5.0,
        settle: float = 0.05,
    ) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE; with ``wait``, return once answered and quiet."""
        record = InteractionRecord(
            int(payload["id"]),
            payload["token"],
            payload["type"],
            payload,
            channel,
            user,
            source_message,
        )
        self.interactions[record.id] = record
        self.gateway.dispatch("INTERACTION_CREATE", payload)
        if wait:
            await self.wait_answered(record, within=within, settle=settle)
        return record

    async def wait_answered(
        self: DiscordDouble, record: InteractionRecord, *, within: float = 5.0, settle: float = 0.05
    ) -> InteractionRecord:
        """Wait for the answer, then for ``settle`` seconds without followup activity."""
        await self.wait_until(
            lambda: record.answered,
            within,
            f"an answer to interaction {record.payload.get('data')}",
        )
        await self.wait_until(
            lambda: time.monotonic() - record.last_activity >= settle,
            within,
            "the interaction to go quiet",
        )
        return record

    def _place(self: DiscordDouble, guild: Any, channel: Any) -> Channel:
        found = self.channel(channel)
        if guild is not None and found.guild_id != snowflake_of(guild):
            raise ValueError(f"#{found.name} is not in guild {snowflake_of(guild)}")
        return found

    async def slash(
        self: DiscordDouble,
        guild: Any,
        channel: Any,
        user: Any,
        name: str,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        options: dict[str, Any] | None = None,
        **wait: Any,
    ) -> InteractionRecord:
        """A member runs /name [group] [subcommand] with options (must be registered)."""
        where, who = self._place(guild, channel), self.user(user)
        payload = payloads.slash_payload(
            self, where, who, name, group=group, subcommand=subcommand, options=options or {}
        )
        return await self.interact(payload, where, who, **wait)

    async def autocomplete(
        self: DiscordDouble,
        guild: Any,
        channel: Any,
        user: Any,
        name: str,
        *,
        focused: str,
        subcommand: str | None = None,
        group: str | None = None,
        options: dict[str, Any] | None = None,
        **wait: Any,
    ) -> InteractionRecord:
        """A member types into option ``focused``; the record's ``data['choices']`` answers."""
        where, who = self._place(guild, channel), self.user(user)
        given = {focused: "", **(options or {})}
        payload = payloads.slash_payload(
            self,
            where,
            who,
            name,
            group=group,
            subcommand=subcommand,
            options=given,
            focused=focused,
        )
        return await self.interact(payload, where, who, **wait)

    async def click(
        self: DiscordDouble,
        message: Any,
        user: Any,
        custom_id: str,
        *,
        values: list[str] | None = None,
        **wait: Any,
    ) -> InteractionRecord:
        """A member clicks a button (or picks ``values`` in a select) on a message."""
        target = (
            message if isinstance(message, Message) else self.world.messages[snowflake_of(message)]
        )
        component = payloads.find_component(target, custom_id)
        where, who = self.world.channels[target.channel_id], self.user(user)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = list(values or [])
        payload = {
            **payloads.base_payload(self, payloads.COMPONENT, where, who),
            "data": data,
            "message": target.payload(),
        }
        return await self.interact(payload, where, who, source_message=target, **wait)

    async def message_command(
        self: DiscordDouble,
        guild: Any,
        channel: Any,
        user: Any,
        name: str,
        message: Any,
        **wait: Any,
    ) -> InteractionRecord:
        """A member runs the message context-menu command ``name`` on ``message``."""
        target = (
            message if isinstance(message, Message) else self.world.messages[snowflake_of(message)]
        )
        where, who = self._place(guild, channel), self.user(user)
        payload = payloads.message_command_payload(self, where, who, name, target)
        return await self.interact(payload, where, who, **wait)

    async def submit_modal(
        self: DiscordDouble,
        record: InteractionRecord,
        values: dict[str, str],
        *,
        user: Any = None,
        **wait: Any,
    ) -> InteractionRecord:
        """Submit the modal the bot opened in answer to ``record``."""
        if record.response_type != MODAL:
            raise ValueError("the bot did not answer this interaction with a modal")
        who = self.user(user) if user is not None else record.user
        modal = record.data
        data = {
            "custom_id": modal["custom_id"],
            "components": payloads.modal_components(modal, values),
        }
        payload = {
            **payloads.base_payload(self, payloads.MODAL_SUBMIT, record.channel, who),
            "data": data,
        }
        if record.source_message is not None:
            payload["message"] = record.source_message.payload()
        return await self.interact(
            payload, record.channel, who, source_message=record.source_message, **wait
        )

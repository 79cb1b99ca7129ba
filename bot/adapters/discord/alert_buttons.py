"""The controls on `#alerts` messages: Acknowledge, Declare incident, Attach to incident, and
the digest's "act on one of these alerts" menu.

Each is a `DynamicItem` whose custom_id carries the alert id, so a click is understood by
any bot process over the same database, before or after a restart: no view is kept in
memory per message. Each one parses the click, calls the core (which holds the permission
rule), and answers; a refusal is one ephemeral line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Sequence
from typing import Any

import discord

from bot.adapters.discord import alert_rendering, rendering
from bot.adapters.discord.interactions import (
    answered_in_time,
    bot,
    defer,
    guild_id,
    member,
    quick,
    send,
    services,
)
from bot.core.alerts import Alert
from bot.core.errors import NotFoundError
from bot.core.model import OPEN_STATUSES, Incident, Severity
from bot.core.permissions import ensure_can_change
from bot.core.services import IncidentRef

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
Button = discord.ui.Button[discord.ui.View]
Select = discord.ui.Select[discord.ui.View]


async def guarded(interaction: discord.Interaction, work: Awaitable[None]) -> None:
    """Run a component callback in time (see `answered_in_time`); core refusals become one
    ephemeral line, bugs an apology."""
    await answered_in_time(interaction, _answering(interaction, work))


async def _answering(interaction: discord.Interaction, work: Awaitable[None]) -> None:
    from bot.adapters.discord.client import GENERIC_ERROR, error_message  # client imports us

    try:
        await work
    except Exception as exc:
        message = error_message(exc)
        if message is None:
            log.error("alert control failed (guild %s)", interaction.guild_id, exc_info=exc)
            message = GENERIC_ERROR
        try:
            await send(interaction, message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about a failed alert control", exc_info=True)


def static_view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    """A view to send, not to keep: dynamic items are found again by their custom_id."""
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()  # a stopped view is not stored per message by discord.py
    return view


def alert_view(alert: Alert) -> discord.ui.View:
    """The three buttons of an alert card; Acknowledge only while there is something to take."""
    assert alert.id is not None
    takeable = alert.is_open and alert.acknowledged_at is None
    return static_view(
        AcknowledgeButton(alert.id, disabled=not takeable),
        DeclareButton(alert.id),
        AttachButton(alert.id),
    )


def digest_view(choices: Sequence[tuple[str, str, str]]) -> discord.ui.View:
    """The digest's menu of its alerts (the first 25, those still firing first)."""
    return static_view(PickAlertSelect(choices))


class _ForAlert:
    """Rebuilds the clicked item from its custom_id, which ends in the alert id."""

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Any:
        return cls(int(match["id"]))  # type: ignore[call-arg]


class AcknowledgeButton(
    _ForAlert, discord.ui.DynamicItem[Button], template=r"opsroom:alert:ack:(?P<id>\d+)"
):
    """Take the alert: escalation stops, and the card says who took it."""

    def __init__(self, alert_id: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Acknowledge",
                emoji="👀",
                style=discord.ButtonStyle.primary,
                custom_id=f"opsroom:alert:ack:{alert_id}",
                disabled=disabled,
            )
        )
        self.alert_id = alert_id

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._acknowledge(interaction))

    async def _acknowledge(self, interaction: discord.Interaction) -> None:
        relay = bot(interaction).alert_relay
        async with relay.in_place(interaction.message.id if interaction.message else None):
            alert = await quick(
                interaction,
                services(interaction).alerts.acknowledge(
                    guild_id(interaction), member(interaction), self.alert_id
                ),
                ephemeral=True,
            )
            await relay.show_in_place(interaction, alert)


class DeclareButton(
    _ForAlert, discord.ui.DynamicItem[Button], template=r"opsroom:alert:declare:(?P<id>\d+)"
):
    """Open the declare form, prefilled from the alert."""

    def __init__(self, alert_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Declare incident",
                emoji="🚨",
                style=discord.ButtonStyle.danger,
                custom_id=f"opsroom:alert:declare:{alert_id}",
            )
        )
        self.alert_id = alert_id

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._open(interaction))

    async def _open(self, interaction: discord.Interaction) -> None:
        gid, core = guild_id(interaction), services(interaction)
        # Refuse a watcher before the form, not after they filled it in.
        ensure_can_change(member(interaction), await core.guilds.get(gid))
        alert = await core.alerts.get(gid, self.alert_id)
        await interaction.response.send_modal(DeclareModal(alert, opening=interaction.id))


class DeclareModal(discord.ui.Modal):
    """Title (prefilled with the alert's) and severity; submitting declares and attaches."""

    def __init__(self, alert: Alert, *, opening: int) -> None:
        # Unique per opening (the click's interaction id): discord.py finds an open form by
        # its custom_id alone, so two responders' forms on one alert must not share one.
        super().__init__(
            title="Declare an incident from this alert",
            custom_id=f"opsroom:alert:declare-form:{alert.id}:{opening}",
            timeout=900,  # an interaction token lives 15 minutes
        )
        assert alert.id is not None
        self.alert_id = alert.id
        self.incident_title = discord.ui.TextInput(
            custom_id="title",
            default=alert_rendering.one_line(alert.title, 200) or None,
            min_length=1,
            max_length=200,
        )
        suggested = alert_rendering.suggested_severity(alert)
        self.severity: Select = discord.ui.Select(
            custom_id="severity",
            options=[
                discord.SelectOption(
                    label=f"{s.value} ({s.label})", value=s.value, default=s is suggested
                )
                for s in Severity
            ],
        )
        self.add_item(discord.ui.Label(text="Title", component=self.incident_title))
        self.add_item(discord.ui.Label(text="Severity", component=self.severity))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._declare(interaction))

    async def _declare(self, interaction: discord.Interaction) -> None:
        gid = guild_id(interaction)
        chosen = self.severity.values[0] if self.severity.values else Severity.SEV2.value
        incident = await quick(
            interaction,
            services(interaction).incidents.declare(
                gid,
                member(interaction),
                title=self.incident_title.value,
                severity=Severity(chosen),
                alert_id=self.alert_id,
            ),
        )
        await defer(interaction)  # making channels, cards and threads takes a few requests
        incident = await bot(interaction).notifier.rooms.ensure(gid, incident.number)
        lead = incident.commander
        where = f" Responders, join <#{incident.channel_id}>." if incident.channel_id else ""
        await send(
            interaction,
            f"🚨 **{incident.label}** declared from alert `A{self.alert_id}`, "
            f"{rendering.severity_text(incident.severity)}; commander "
            f"{rendering.mention(lead) if lead else 'nobody'}.{where}",
        )


class AttachButton(
    _ForAlert, discord.ui.DynamicItem[Button], template=r"opsroom:alert:attach:(?P<id>\d+)"
):
    """Offer the open incidents to attach the alert to."""

    def __init__(self, alert_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Attach to incident",
                emoji="🔗",
                style=discord.ButtonStyle.secondary,
                custom_id=f"opsroom:alert:attach:{alert_id}",
            )
        )
        self.alert_id = alert_id

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._offer(interaction))

    async def _offer(self, interaction: discord.Interaction) -> None:
        gid, core = guild_id(interaction), services(interaction)
        ensure_can_change(member(interaction), await core.guilds.get(gid))
        await core.alerts.get(gid, self.alert_id)  # still there
        incidents = await core.incidents.list(gid, OPEN_STATUSES)
        if not incidents:
            raise NotFoundError("There is no open incident to attach to; declare one instead.")
        await interaction.response.send_message(
            f"Attach alert `A{self.alert_id}` to which incident?",
            view=static_view(AttachSelect(self.alert_id, incidents)),
            ephemeral=True,
            allowed_mentions=NONE,
        )


class AttachSelect(
    _ForAlert, discord.ui.DynamicItem[Select], template=r"opsroom:alert:attach-to:(?P<id>\d+)"
):
    """The open incidents (newest first, at most 25); picking one attaches the alert."""

    def __init__(self, alert_id: int, incidents: Sequence[Incident] = ()) -> None:
        options = [
            discord.SelectOption(label=rendering.incident_choice(i), value=str(i.number))
            for i in incidents[:25]
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"opsroom:alert:attach-to:{alert_id}",
                placeholder="Pick an open incident",
                options=options or [discord.SelectOption(label="(none)", value="0")],
            )
        )
        self.alert_id = alert_id

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._attach(interaction))

    async def _attach(self, interaction: discord.Interaction) -> None:
        values = (interaction.data or {}).get("values") or ["0"]
        _, incident = await quick(
            interaction,
            services(interaction).alerts.attach(
                guild_id(interaction),
                member(interaction),
                self.alert_id,
                IncidentRef(number=int(values[0])),
            ),
            ephemeral=True,
        )
        text = (
            f"🔗 Alert `A{self.alert_id}` is attached to **{incident.label}** and on its timeline."
        )
        if interaction.response.is_done():
            await send(interaction, text, ephemeral=True)
        else:
            await interaction.response.edit_message(content=text, view=None, allowed_mentions=NONE)


class PickAlertSelect(discord.ui.DynamicItem[Select], template=r"opsroom:alerts:pick"):
    """A digest's menu: picking an alert shows its card and buttons, to you only."""

    def __init__(self, choices: Sequence[tuple[str, str, str]] = ()) -> None:
        options = [
            discord.SelectOption(label=name, value=value, description=about)
            for name, value, about in choices
        ]
        super().__init__(
            discord.ui.Select(
                custom_id="opsroom:alerts:pick",
                placeholder="Act on one of these alerts…",
                options=options or [discord.SelectOption(label="(none)", value="0")],
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PickAlertSelect:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._show(interaction))

    async def _show(self, interaction: discord.Interaction) -> None:
        values = (interaction.data or {}).get("values") or ["0"]
        alert = await services(interaction).alerts.get(guild_id(interaction), int(values[0]))
        content, embed, view = await bot(interaction).alert_relay.card_parts(alert)
        await interaction.response.send_message(
            content, embed=embed, view=view, ephemeral=True, allowed_mentions=NONE
        )


DYNAMIC_ITEMS = (AcknowledgeButton, DeclareButton, AttachButton, AttachSelect, PickAlertSelect)

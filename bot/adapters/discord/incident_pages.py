"""`/incident list` as pages: one message showing 25 incidents, newest first, with Older and
Newer buttons that edit it in place.

The buttons are `DynamicItem`s whose custom_id carries the whole state (which statuses,
which way, from which incident number), so they work in any bot process and after a
restart, and each click reads one page through an index: the cost of a click does not
grow with the guild's history.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.adapters.discord import limits, rendering
from bot.adapters.discord.alert_buttons import guarded
from bot.adapters.discord.interactions import guild_id, send, services
from bot.core.model import OPEN_STATUSES, Status
from bot.core.services import IncidentPage

Button = discord.ui.Button[discord.ui.View]
OPEN = "open"
LINE = limits.EMBED_DESCRIPTION // 25 - 1  # 25 lines always fit one embed


def statuses_of(scope: str) -> frozenset[Status]:
    """`open` or one status value → the statuses listed."""
    return OPEN_STATUSES if scope == OPEN else frozenset({Status(scope)})


def what(scope: str) -> str:
    """How the listing names itself: "open incidents", "closed incidents"."""
    return f"{scope} incidents"


def page_message(scope: str, page: IncidentPage) -> dict[str, Any]:
    """The message (embed and buttons) that shows one page."""
    if not page.incidents:
        return {"content": f"No {what(scope)}.", "embed": None, "view": None}
    lines = [limits.truncate(rendering.incident_line(i), LINE) for i in page.incidents]
    first, last = page.incidents[0].number, page.incidents[-1].number
    embed = discord.Embed(
        title=what(scope).capitalize(),
        description="\n".join(lines),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=f"#{first} to #{last}, newest first")
    view = discord.ui.View(timeout=None)
    view.add_item(PageButton(scope, "newer", first, disabled=not page.newer))
    view.add_item(PageButton(scope, "older", last, disabled=not page.older))
    return {"content": None, "embed": embed, "view": view}


async def first_page(interaction: discord.Interaction, status: str | None) -> None:
    """`/incident list [status]`: the newest page, privately."""
    scope = status or OPEN
    page = await services(interaction).incidents.page(guild_id(interaction), statuses_of(scope))
    message = page_message(scope, page)
    await send(
        interaction,
        message["content"] or "",
        ephemeral=True,
        embed=message["embed"],
        view=message["view"],
    )


class PageButton(
    discord.ui.DynamicItem[Button],
    template=r"opsroom:incidents:(?P<scope>[a-z]+):(?P<way>older|newer):(?P<number>\d+)",
):
    """Older: the page below incident `number`; Newer: the page above it."""

    def __init__(self, scope: str, way: str, number: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="◀ Newer" if way == "newer" else "Older ▶",
                style=discord.ButtonStyle.secondary,
                custom_id=f"opsroom:incidents:{scope}:{way}:{number}",
                disabled=disabled,
            )
        )
        self.scope, self.way, self.number = scope, way, number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> PageButton:
        return cls(match["scope"], match["way"], int(match["number"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only a known scope pages (an old or forged custom_id is ignored)."""
        return self.scope == OPEN or self.scope in {s.value for s in Status}

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._show(interaction))

    async def _show(self, interaction: discord.Interaction) -> None:
        way = {"before": self.number} if self.way == "older" else {"after": self.number}
        page = await services(interaction).incidents.page(
            guild_id(interaction), statuses_of(self.scope), **way
        )
        message = page_message(self.scope, page)
        if interaction.response.is_done():  # a slow database made the guard defer
            await interaction.edit_original_response(**message)
        else:
            await interaction.response.edit_message(**message)


PAGE_ITEMS = (PageButton,)

"""`/incident list` in pages: 25 per page, newest first, one message whose Older and Newer
buttons edit it in place, and still work on a new bot over the same database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert

from bot.adapters.db.tables import counters, incidents
from tests.discord.conftest import World, declare

T0 = datetime(2026, 2, 1, tzinfo=UTC)


async def _history(world: World, sessions, count: int) -> None:
    """`count` closed incidents numbered after whatever exists, written straight to the
    database with the guild's number counter (quicker than closing them one by one)."""
    async with sessions() as session:
        start = 1 + len(await world.env.bot.services.incidents.list(world.guild.id))
        rows = [
            {
                "guild_id": world.guild.id,
                "number": n,
                "title": f"old incident {n}",
                "severity": "sev3",
                "status": "closed",
                "declared_by_id": world.alice.id,
                "declared_by_name": "alice",
                "started_at": T0,
                "detected_at": T0,
                "declared_at": T0,
                "closed_at": T0,
                "summary": "",
            }
            for n in range(start, start + count)
        ]
        await session.execute(insert(incidents), rows)
        scope = f"incident:{world.guild.id}"
        await session.execute(delete(counters).where(counters.c.scope == scope))
        await session.execute(insert(counters), {"scope": scope, "value": start + count - 1})
        await session.commit()


def numbers(result) -> list[int]:
    """The incident numbers a page shows, top to bottom."""
    lines = result.response.embeds[0].description.splitlines()
    return [int(line.split("#", 1)[1].split(" ", 1)[0]) for line in lines]


def buttons(result) -> dict[str, bool]:
    """Button label → enabled."""
    return {
        c.label: not c.disabled for row in result.response.message.components for c in row.children
    }


async def test_closed_incidents_page_through_older_and_newer(ready: World, sessions):
    """60 closed incidents: 60–36, then 35–11, then 10–1, and back; one message throughout."""
    await _history(ready, sessions, 60)
    first = await ready.bob.slash(ready.general, "incident list", status="closed")
    assert first.ephemeral and numbers(first) == list(range(60, 35, -1))
    assert first.response.embeds[0].title == "Closed incidents"
    assert buttons(first) == {"◀ Newer": False, "Older ▶": True}
    assert first.followups == []
    second = await ready.bob.click(first.response.message, label="Older ▶")
    assert numbers(second) == list(range(35, 10, -1))
    assert buttons(second) == {"◀ Newer": True, "Older ▶": True}
    assert second.response.message.id == first.response.message.id  # edited in place
    third = await ready.bob.click(second.response.message, label="Older ▶")
    assert numbers(third) == list(range(10, 0, -1))
    assert buttons(third) == {"◀ Newer": True, "Older ▶": False}
    back = await ready.bob.click(third.response.message, label="◀ Newer")
    assert numbers(back) == list(range(35, 10, -1))
    top = await ready.bob.click(back.response.message, label="◀ Newer")
    assert numbers(top) == list(range(60, 35, -1))


async def test_the_default_lists_open_incidents_only(ready: World, sessions):
    """Open ones, newest first; the 30 closed ones are not on the page; one page, no paging."""
    await declare(ready, "Database down")
    await _history(ready, sessions, 30)
    await declare(ready, "Cache cold")
    result = await ready.bob.slash(ready.general, "incident list")
    assert numbers(result) == [32, 1]
    assert result.response.embeds[0].title == "Open incidents"
    assert buttons(result) == {"◀ Newer": False, "Older ▶": False}


async def test_nothing_to_list_says_so(ready: World):
    """No incidents: one line, no buttons."""
    result = await ready.bob.slash(ready.general, "incident list", status="closed")
    assert result.ephemeral and result.response.content == "No closed incidents."


async def test_page_buttons_work_on_a_new_bot(ready: World, sessions, make_bot):
    """The custom_id carries the page: after a restart the old message still pages."""
    await _history(ready, sessions, 30)
    first = await ready.bob.slash(ready.general, "incident list", status="closed")
    await ready.env.restart_bot(make_bot())
    older = await ready.bob.click(first.response.message, label="Older ▶")
    assert numbers(older) == list(range(5, 0, -1))

"""`/action add|done|list`: follow-up items with owner, kind and due date."""

from __future__ import annotations

from bot.core.errors import NotFoundError, ValidationError
from tests.discord.conftest import World, acknowledge, declare


async def test_add_with_every_option(ready: World):
    """text, owner, kind and a relative due date are stored and echoed."""
    channel = await declare(ready)
    result = await ready.alice.slash(
        channel,
        "action add",
        text="Alert on replication lag",
        owner=ready.bob,
        kind="detect",
        due="+3d",
    )
    assert result.ephemeral
    assert result.response.content == (
        f"Action `1` ☐ Alert on replication lag · detect · owner <@{ready.bob.id}> · due 2026-03-04"
    )


async def test_add_defaults_to_repair_without_owner_or_due(ready: World):
    """Only text given: kind repair, no owner, no due date."""
    channel = await declare(ready)
    result = await ready.alice.slash(channel, "action add", text="Replace the disk")
    assert result.response.content == "Action `1` ☐ Replace the disk · repair"


async def test_done_and_list(ready: World):
    """Done marks the item; list shows both items, from #general with the incident option."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "action add", text="Write the runbook", kind="process")
    await ready.alice.slash(channel, "action add", text="Add disk alerts", kind="prevent")
    done = await ready.alice.slash(channel, "action done", id=1)
    assert done.ephemeral and done.response.content.startswith("Done: `1` ☑ Write the runbook")
    listed = await ready.bob.slash(ready.general, "action list", incident=1)
    text = listed.response.content
    assert listed.ephemeral and text.startswith("**Action items of #1 Database down**")
    assert "`1` ☑ Write the runbook · process" in text and "`2` ☐ Add disk alerts · prevent" in text


async def test_list_without_actions(ready: World):
    """An incident without follow-ups says so."""
    channel = await declare(ready)
    result = await ready.bob.slash(channel, "action list")
    assert result.response.content == "**Action items of #1 Database down**\nNone yet."


async def test_done_of_a_missing_item_and_a_bad_due_date_are_refused(ready: World):
    """One-line refusals from the core for a wrong number and an unreadable due date."""
    channel = await declare(ready)
    missing = await ready.alice.slash(channel, "action done", id=7)
    bad_due = await ready.alice.slash(channel, "action add", text="x", due="someday")
    assert missing.response.content == "There is no action item 7 on this incident."
    assert bad_due.response.content.startswith("Could not read due date")
    errors = [e.original for e in acknowledge(ready.env)]
    assert [type(e) for e in errors] == [NotFoundError, ValidationError]

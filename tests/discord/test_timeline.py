"""`/timeline …` and the **Add to timeline** message menu, and what the thread shows of them."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.errors import NotFoundError, ValidationError
from bot.core.services import IncidentRef
from tests.discord.conftest import World, acknowledge, declare
from tests.discord.test_incidents import thread_lines, thread_of


def unix(hour: int, minute: int) -> int:
    """A time on the core clock's day (2026-03-01, UTC) as a Unix timestamp."""
    return int(datetime(2026, 3, 1, hour, minute, tzinfo=UTC).timestamp())


def all_text(result) -> str:
    """The reply and its followups, as one text."""
    parts = [result.response.content] + [f.content for f in result.followups]
    return "\n".join(parts)


async def test_add_posts_to_the_thread_and_answers_quietly(ready: World):
    """An entry at now: ephemeral confirmation, and the line appears in the thread."""
    channel = await declare(ready)
    result = await ready.alice.slash(channel, "timeline add", text="Primary is out of disk")
    assert result.ephemeral
    assert result.response.content == f"📝 Entry 2 added at <t:{unix(12, 0)}:f>."
    assert thread_lines(thread_of(ready))[-1] == (
        f"`2` <t:{unix(12, 0)}:T> 📝 **alice**: Primary is out of disk"
    )


async def test_add_at_accepts_clock_times_and_relative_times(ready: World):
    """`at` as HH:MM (guild timezone) or -15m; entries are shown in event order."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "timeline add", text="disk alarm fired", at="11:40")
    await ready.alice.slash(channel, "timeline add", text="someone noticed", at="-15m")
    result = await ready.bob.slash(channel, "timeline show")
    text = result.response.content
    assert result.ephemeral
    assert text.index("disk alarm fired") < text.index("someone noticed") < text.index("Declared")
    assert f"<t:{unix(11, 40)}:T>" in text and f"<t:{unix(11, 45)}:T>" in text


async def test_add_with_a_bad_time_is_refused(ready: World):
    """An unreadable `at` gets the core's one-line explanation, ephemerally."""
    channel = await declare(ready)
    result = await ready.alice.slash(channel, "timeline add", text="x", at="yesterday-ish")
    assert result.ephemeral and result.response.content.startswith("Could not read time")
    (error,) = acknowledge(ready.env)
    assert isinstance(error.original, ValidationError)


async def test_show_last_and_incident_option(ready: World):
    """`last` keeps the latest N; `incident` reads another incident's timeline from #general."""
    channel = await declare(ready)
    for n in range(4):
        await ready.alice.slash(channel, "timeline add", text=f"step {n}")
    result = await ready.bob.slash(ready.general, "timeline show", last=2, incident=1)
    text = result.response.content
    assert text.startswith("**Timeline of #1 Database down**")
    assert "step 2" in text and "step 3" in text and "step 1" not in text


async def test_edit_and_delete_keep_the_thread_informed(ready: World, clock):
    """Edits (text and time) and deletes are applied, confirmed and noted in the thread."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "timeline add", text="restarted the wrong host")
    await ready.alice.slash(channel, "timeline add", text="a mistaken note")
    edited = await ready.alice.slash(
        channel, "timeline edit", id=2, text="restarted db-2", at="11:55"
    )
    deleted = await ready.alice.slash(channel, "timeline delete", id=3)
    assert edited.ephemeral and edited.response.content == "✏️ Entry 2 edited."
    assert deleted.ephemeral and deleted.response.content == "🗑️ Entry 3 deleted."
    lines = thread_lines(thread_of(ready))
    assert lines[-2] == f"✏️ Entry 2 was edited (<t:{unix(11, 55)}:T>): restarted db-2"
    assert lines[-1] == "🗑️ Entry 3 was deleted."
    shown = (await ready.bob.slash(channel, "timeline show")).response.content
    assert "restarted db-2 *(edited)*" in shown and "mistaken" not in shown


async def test_edit_of_a_missing_entry_is_refused(ready: World):
    """Editing entry 99 says there is no such entry."""
    channel = await declare(ready)
    result = await ready.alice.slash(channel, "timeline edit", id=99, text="x")
    assert result.response.content == "There is no timeline entry 99 on this incident."
    (error,) = acknowledge(ready.env)
    assert isinstance(error.original, NotFoundError)


async def test_add_to_timeline_menu_adds_a_message_once(ready: World):
    """The message becomes an entry with its time, author and link; twice gives one entry."""
    channel = await declare(ready)
    message = await ready.bob.send(channel, "I see 502s from the EU edge")
    first = await ready.alice.context_menu(channel, "Add to timeline", message)
    second = await ready.alice.context_menu(channel, "Add to timeline", message)
    assert first.ephemeral and first.response.content == "📝 Added to the timeline as entry 2."
    assert second.ephemeral and second.response.content == "That message is already entry 2."
    entries = await ready.env.bot.services.timeline.show(ready.guild.id, IncidentRef(number=1))
    added = [e for e in entries if e.message_id == message.id]
    assert len(added) == 1
    assert added[0].author.id == ready.bob.id and added[0].jump_url == message.jump_url
    assert added[0].event_at == message.created_at
    lines = [line for line in thread_lines(thread_of(ready)) if "502s" in line]
    assert len(lines) == 1 and "**bob**" in lines[0] and message.jump_url in lines[0]


async def test_add_to_timeline_outside_an_incident_channel_is_refused(ready: World):
    """The menu in #general has no incident to add to: a one-line answer."""
    await declare(ready)
    message = await ready.alice.send(ready.general, "hello")
    result = await ready.alice.context_menu(ready.general, "Add to timeline", message)
    assert result.ephemeral and result.response.content.startswith("Which incident?")
    acknowledge(ready.env)


async def test_thread_receives_entries_in_order(ready: World):
    """Ten quick entries reach the thread once each, in the order they were made."""
    channel = await declare(ready)
    for n in range(10):
        await ready.alice.slash(channel, "timeline add", text=f"entry number {n}")
    lines = thread_lines(thread_of(ready))[1:]
    assert [line.split("**alice**: ")[1] for line in lines] == [
        f"entry number {n}" for n in range(10)
    ]


async def test_long_timeline_is_split_within_limits(ready: World):
    """Twenty long entries come back in several messages, none over 2000 characters."""
    channel = await declare(ready)
    for n in range(20):
        await ready.alice.slash(channel, "timeline add", text=f"entry {n} " + "w" * 290)
    result = await ready.bob.slash(channel, "timeline show")
    messages = [result.response] + result.followups
    assert len(messages) > 1 and all(len(m.content) <= 2000 for m in messages)
    assert all(f"entry {n} " in all_text(result) for n in range(20))

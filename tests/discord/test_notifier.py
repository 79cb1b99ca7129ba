"""The outbox relay: in order, at least once, retried on failure, never stuck on a dead target."""

from __future__ import annotations

import asyncio
import logging

import discord
import pytest

from bot.core.events import Event, Topic
from bot.core.model import Member, Person
from bot.core.services import IncidentRef
from tests.discord.conftest import World, declare
from tests.discord.test_incidents import cards, fields, thread_lines, thread_of


async def pending(world: World) -> list:
    """Events not yet delivered."""
    async with world.env.bot.uow_factory() as uow:
        return await uow.outbox.pending()


async def test_everything_is_delivered_and_marked_done(ready: World):
    """After a busy incident the outbox is empty."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "timeline add", text="one")
    await ready.alice.slash(channel, "timeline delete", id=2)
    await ready.alice.slash(channel, "incident severity", level="sev2")
    assert await pending(ready) == []


async def test_thread_posts_carry_a_nonce_from_the_event(ready: World):
    """Each post has nonce `ev<event id>.<part>` and enforce_nonce, so a retry cannot double it."""
    await declare(ready)
    thread = thread_of(ready)
    posts = [
        r
        for r in ready.env.http_requests
        if r.method == "POST" and r.path == f"/channels/{thread.id}/messages"
    ]
    (post,) = posts
    assert post.json["nonce"].startswith("ev") and post.json["nonce"].endswith(".0")
    assert post.json["enforce_nonce"] is True


async def test_transient_failure_is_retried_until_delivered(ready: World):
    """Two 503s on the thread post: the entry still arrives, exactly once."""
    channel = await declare(ready)
    ready.env.bot.notifier.retry_base = 0.01
    thread = thread_of(ready)
    ready.env.inject_error("POST", f"/channels/{thread.id}/messages", status=503, times=2)
    await ready.alice.slash(channel, "timeline add", text="survives a Discord hiccup")
    await ready.env.settle()
    assert [line for line in thread_lines(thread) if "hiccup" in line] == [
        "`2` <t:1772366400:T> 📝 **alice**: survives a Discord hiccup"
    ]
    assert await pending(ready) == []


async def test_deleted_card_is_skipped_and_the_rest_goes_on(
    ready: World, caplog: pytest.LogCaptureFixture
):
    """A moderator deleted the room card: the working card still updates, nothing is stuck."""
    channel = await declare(ready)
    moderators = ready.guild.create_role(
        "Mods", permissions=discord.Permissions(manage_messages=True)
    )
    mod = ready.guild.add_member(ready.env.create_user("mod"), roles=[moderators])
    room = ready.channel("operating-room")
    (room_card,) = cards(room)
    await mod.delete(room_card)
    with caplog.at_level(logging.WARNING):
        await ready.alice.slash(channel, "incident severity", level="sev3")
    assert fields(channel.pinned_messages()[0])["Severity"] == "🟡 sev3 (minor)"
    assert cards(room) == []  # never re-posted
    assert any("was deleted; not re-posting" in r.getMessage() for r in caplog.records)
    assert await pending(ready) == []


async def test_events_whose_subject_is_gone_are_marked_done(ready: World):
    """An alert event for an alert that does not exist is acknowledged, not left to pile up."""
    async with ready.env.bot.uow_factory() as uow:
        await uow.outbox.add(Event(Topic.ALERT_CHANGED, ready.guild.id, 42))
        await uow.commit()
    await ready.env.settle()
    assert await pending(ready) == []


async def test_registered_handlers_receive_their_topic(ready: World):
    """Another adapter can register a handler; it gets the stored event."""
    seen = []

    async def relay(stored):
        seen.append((stored.event.topic, stored.event.subject_id))

    ready.env.bot.notifier.register(Topic.ALERT_ESCALATED, relay)
    async with ready.env.bot.uow_factory() as uow:
        await uow.outbox.add(Event(Topic.ALERT_ESCALATED, ready.guild.id, 7))
        await uow.commit()
    await ready.env.settle()
    assert seen == [(Topic.ALERT_ESCALATED, 7)]


async def test_a_handler_bug_is_retried_then_skipped(ready: World):
    """A handler that always fails gives up after max_attempts; later events still flow."""
    notifier = ready.env.bot.notifier
    notifier.retry_base, calls = 0.01, []

    async def broken(stored):
        calls.append(stored.id)
        raise ValueError("bug")

    notifier.register(Topic.ALERT_CHANGED, broken)
    async with ready.env.bot.uow_factory() as uow:
        await uow.outbox.add(Event(Topic.ALERT_CHANGED, ready.guild.id, 1))
        await uow.commit()
    await ready.env.settle()
    assert len(calls) == notifier.max_attempts
    await declare(ready)
    assert len(thread_lines(thread_of(ready))) == 1
    assert await pending(ready) == []


async def test_poll_delivers_when_nobody_rang(ready: World, doorbell):
    """Without the after-commit wake-up (another process wrote), the slow poll delivers."""
    await declare(ready)
    doorbell.target = None
    actor = Member(Person(ready.alice.id, "alice"), frozenset({ready.responders.id}))
    await ready.env.bot.services.timeline.add(
        ready.guild.id, actor, IncidentRef(number=1), "written elsewhere"
    )
    await ready.env.settle()
    assert not any("written elsewhere" in line for line in thread_lines(thread_of(ready)))
    await ready.env.advance_time(ready.env.bot.notifier.poll_interval + 1)
    assert any("written elsewhere" in line for line in thread_lines(thread_of(ready)))


async def test_a_deferred_event_stays_pending_until_its_consumer_completes_it(ready: World):
    """A deferred handler takes the event over: handed out once, pending until complete()."""
    notifier, seen = ready.env.bot.notifier, []

    async def take(stored):
        seen.append(stored.id)

    notifier.register(Topic.ALERT_CHANGED, take, deferred=True)
    async with ready.env.bot.uow_factory() as uow:
        await uow.outbox.add(Event(Topic.ALERT_CHANGED, ready.guild.id, 1))
        await uow.commit()
    await ready.env.settle()
    notifier.wake()
    await ready.env.settle()
    assert len(seen) == 1 and [e.id for e in await pending(ready)] == seen
    await notifier.complete(seen)
    assert await pending(ready) == []


async def test_a_deferred_event_not_completed_is_handed_out_again_after_a_restart(ready: World):
    """Stopping the notifier forgets what it handed out; the next start delivers it again."""
    notifier, seen = ready.env.bot.notifier, []

    async def take(stored):
        seen.append(stored.id)

    notifier.register(Topic.ALERT_ESCALATED, take, deferred=True)
    async with ready.env.bot.uow_factory() as uow:
        await uow.outbox.add(Event(Topic.ALERT_ESCALATED, ready.guild.id, 1))
        await uow.commit()
    await ready.env.settle()
    await notifier.stop()
    notifier.start()
    await ready.env.settle()
    assert len(seen) == 2 and seen[0] == seen[1]


async def test_stop_lets_the_event_in_hand_be_marked_done(ready: World):
    """Stopping while a post is in flight waits for it to be marked done, so no re-post."""
    notifier = ready.env.bot.notifier
    started, release, seen = asyncio.Event(), asyncio.Event(), []

    async def slow(stored):
        seen.append(stored.id)
        started.set()
        await release.wait()  # the post is out at Discord; its answer has not come back yet

    notifier.register(Topic.ALERT_ESCALATED, slow)
    async with ready.env.bot.uow_factory() as uow:
        await uow.outbox.add(Event(Topic.ALERT_ESCALATED, ready.guild.id, 1))
        await uow.commit()
    notifier.wake()
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(notifier.stop(grace=5))
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert await pending(ready) == []
    notifier.start()
    await ready.env.settle()
    assert len(seen) == 1

"""Storms in `#alerts`: fair delivery between guilds, a linear outbox read, one ping per
level for alerts due together, digest states and the live storm summary."""

from __future__ import annotations

import asyncio

from bot.adapters.db.repositories.system import SqlOutboxRepository
from bot.adapters.discord import alert_queue
from bot.adapters.discord.rendering import RESOLVED_COLOUR
from bot.core.alerts import SignalAction
from bot.core.events import Event, Topic
from tests.discord.conftest import World
from tests.discord.test_alert_escalation import escalate, paged, pings  # noqa: F401
from tests.discord.test_alert_relay import alerts_channel, creates, edits, ingest, posts, signal


async def add_events(world: World, events: list[Event]) -> None:
    async with world.env.bot.uow_factory() as uow:
        await uow.outbox.add_many(events)
        await uow.commit()


async def test_one_guilds_backlog_does_not_hold_up_another_guilds_event(ready: World):
    """Fifty events of one guild, then one of another: the other guild's is delivered
    without waiting for the fifty, and each guild's events arrive in their order."""
    order: list[tuple[int, int]] = []

    async def handler(stored):
        await asyncio.sleep(0)  # a real handler waits on Discord
        order.append((stored.event.guild_id, stored.event.subject_id))

    ready.env.bot.notifier.register(Topic.ALERT_ESCALATED, handler)
    busy, quiet = 111, 222
    events = [Event(Topic.ALERT_ESCALATED, busy, n) for n in range(50)]
    await add_events(ready, [*events, Event(Topic.ALERT_ESCALATED, quiet, 1)])
    await ready.env.settle()
    assert len(order) == 51
    assert order.index((quiet, 1)) < 5, order
    assert [n for guild, n in order if guild == busy] == list(range(50))


async def test_events_in_hand_are_not_read_again(ready: World, monkeypatch):
    """1,200 events a consumer holds, committed in twelve batches: the outbox read returns
    each about once (a cursor), not the whole held set after every commit."""
    read = []
    original = SqlOutboxRepository.pending

    async def counting(self, limit=100, after=0):
        found = await original(self, limit, after)
        read.append(len(found))
        return found

    monkeypatch.setattr(SqlOutboxRepository, "pending", counting)
    held: list[int] = []

    async def take(stored):
        held.append(stored.id)  # taken over; never completed in this test

    ready.env.bot.notifier.register(Topic.ALERT_ESCALATED, take, deferred=True)
    for batch in range(12):
        events = [Event(Topic.ALERT_ESCALATED, ready.guild.id, batch * 100 + n) for n in range(100)]
        await add_events(ready, events)
        await ready.env.settle()
    assert len(held) == len(set(held)) == 1200
    assert sum(read) <= 1300, sum(read)


async def test_300_alerts_due_together_ping_once_per_level(paged: World, clock):  # noqa: F811
    """A storm of 300 unacknowledged alerts: one ping per level naming how many and a few,
    exactly the level's role mentioned, and every alert escalated on its own."""
    await ingest(paged, *(signal(f"s{n}", title=f"disk {n}") for n in range(300)))
    assert len(posts(paged)) == 4  # three cards and one summary of the other 297
    oncall, leads = paged.oncall.id, paged.escalation.id  # type: ignore[attr-defined]
    for level in range(1, 5):
        done = await escalate(paged, clock, 5)
        assert len(done) == 300
        await paged.env.advance_time(6)  # the channel's budget
        assert len(pings(paged)) == level
        ping = pings(paged)[-1]
        request = creates(paged, alerts_channel(paged))[-1]
        roles = [int(r) for r in request.json["allowed_mentions"]["roles"]]
        if level <= 3:
            assert ping.content.startswith(f"🔔 <@&{oncall}> **300 alerts** have been firing")
            assert f"(reminder {level} of 3)" in ping.content and roles == [oncall]
        else:
            assert ping.content.startswith(f"🚨 <@&{leads}> **300 alerts** are still")
            assert roles == [leads]
        assert "`A1` **disk 0**" in ping.content and "and 295 more" in ping.content
        assert f"see <#{alerts_channel(paged).id}>" in ping.content
    await escalate(paged, clock, 5)
    assert len(pings(paged)) == 4  # after the escalation role, quiet


async def test_a_burst_gets_its_first_cards_and_then_one_live_summary(ready: World):
    """Ten alerts at once: three cards and a summary of seven; ten more a moment later fold
    into that summary (edited, not posted); its lines show each alert's state."""
    await ingest(ready, *(signal(f"a{n}", title=f"first wave {n}") for n in range(10)))
    messages = posts(ready)
    assert [m.embeds[0].title for m in messages[:3]] == [f"first wave {n}" for n in range(3)]
    summary = messages[3]
    assert summary.embeds[0].title == "Alert digest: 7 alerts"
    await ready.env.advance_time(6)
    await ingest(ready, *(signal(f"b{n}", title=f"second wave {n}") for n in range(10)))
    await ready.env.advance_time(6)
    assert len(creates(ready, alerts_channel(ready))) == 4  # nothing new was posted
    summary = posts(ready)[3]
    assert summary.embeds[0].title == "Alert digest: 17 alerts"
    assert all(f"second wave {n}" in summary.embeds[0].description for n in range(10))
    assert len(edits(ready, summary)) >= 1
    await ingest(ready, signal("b4", SignalAction.RESOLVE, title="second wave 4"))
    await ready.env.advance_time(6)
    lines = posts(ready)[3].embeds[0].description.splitlines()
    assert next(x for x in lines if "second wave 4" in x).startswith("✅ resolved")
    assert next(x for x in lines if "second wave 5" in x).startswith("🔴 firing")


async def test_a_digest_turns_green_when_all_its_alerts_resolved(ready: World):
    """Every alert of a digest resolved: its colour and its line above say so."""
    await ingest(ready, *(signal(f"a{n}", title=f"alert {n}") for n in range(7)))
    digest = posts(ready)[-1]
    assert "⚠️" in digest.content
    await ready.env.advance_time(6)
    await ingest(ready, *(signal(f"a{n}", SignalAction.RESOLVE) for n in range(7)))
    await ready.env.advance_time(6)
    digest = posts(ready)[-1]
    assert digest.embeds[0].colour.value == RESOLVED_COLOUR
    assert digest.content.startswith("✅ **4 alerts**, all resolved")


async def test_what_alertmanager_left_out_of_a_group_survives_into_the_digest(ready: World):
    """Alerts carrying a truncated group's count: the digest says how many never arrived."""
    note = {"Group truncated": "7 more alert(s) of this group were not sent"}
    await ingest(ready, *(signal(f"a{n}", title=f"alert {n}", details=note) for n in range(9)))
    digest = posts(ready)[-1]
    assert digest.embeds[0].title == "Alert digest: 6 alerts"
    assert "left out **7 more**" in digest.content


async def test_a_big_summary_attaches_its_full_list(ready: World):
    """Three hundred alerts: the summary shows what fits and attaches every one of them."""
    await ingest(ready, *(signal(f"s{n}", title=f"disk {n}") for n in range(300)))
    summary = posts(ready)[-1]
    (attachment,) = summary.attachments
    assert attachment.filename == "alerts-A4-A300.txt"
    listed = (await attachment.read()).decode().splitlines()
    assert listed[0].startswith("Opsroom alert digest: 297 alerts")
    assert [line.split(" | ")[0] for line in listed[2:]] == [f"A{n}" for n in range(4, 301)]


async def test_a_storm_read_over_several_pages_is_all_in_its_summary(ready: World):
    """1,200 alerts in one commit reach the relay a page at a time: each is shown once."""
    await ingest(ready, *(signal(f"s{n}", title=f"disk {n}") for n in range(1200)))
    await ready.env.advance_time(6)
    messages = posts(ready)
    summary = messages[-1]
    (attachment,) = summary.attachments[-1:]
    listed = (await attachment.read()).decode().splitlines()[2:]
    cards = [m.embeds[0].footer.text.removeprefix("Alert ") for m in messages[:-1]]
    names = cards + [line.split(" | ")[0] for line in listed]
    assert sorted(names, key=lambda n: int(n[1:])) == [f"A{n}" for n in range(1, 1201)]


async def test_a_storm_past_its_summarys_cap_goes_on_in_a_new_summary(ready: World, monkeypatch):
    """A full summary: the storm's next alerts start another summary, not more cards."""
    monkeypatch.setattr(alert_queue, "SUMMARY_CAP", 5)
    await ingest(ready, *(signal(f"s{n}", title=f"disk {n}") for n in range(20)))
    for _ in range(4):
        await ready.env.advance_time(6)
    messages = posts(ready)
    titles = [m.embeds[0].title for m in messages]
    assert titles[:3] == ["disk 0", "disk 1", "disk 2"]
    assert titles[3:] == [f"Alert digest: {n} alerts" for n in (5, 5, 5, 2)]

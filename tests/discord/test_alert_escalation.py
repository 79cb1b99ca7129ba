"""Escalation pings in `#alerts`: the one deliberate ping, of exactly one role."""

from __future__ import annotations

import discord
import pytest

from bot.core.model import Member, Person
from tests.discord.conftest import World
from tests.discord.test_alert_relay import alerts_channel, creates, ingest, posts, signal


@pytest.fixture
async def paged(world: World) -> World:
    """Set up with an on-call and an escalation role (mentionable, like a real paging role)."""
    world.oncall = world.guild.create_role("On-call", mentionable=True)  # type: ignore[attr-defined]
    world.escalation = world.guild.create_role("Leads", mentionable=True)  # type: ignore[attr-defined]
    result = await world.carol.slash(
        world.general,
        "opsroom setup",
        responder_role=world.responders,
        oncall_role=world.oncall,  # type: ignore[attr-defined]
        escalation_role=world.escalation,  # type: ignore[attr-defined]
    )
    assert result.acknowledged
    return world


async def escalate(world: World, clock, minutes: int) -> list:
    """Let `minutes` pass on the core's clock and run the scheduler's job once."""
    clock.advance(minutes=minutes)
    done = await world.env.bot.services.alerts.escalate_due()
    await world.env.settle()
    return done


def pings(world: World) -> list[discord.Message]:
    return [m for m in posts(world) if not m.embeds]


def stored(world: World, message: discord.Message):
    return world.env.backend.get_message(message.channel.id, message.id)


async def test_an_unacknowledged_alert_pings_exactly_the_oncall_role(paged: World, clock):
    """After 5 min: on-call pinged; the role and @everyone named in the alert's text are not."""
    responders = f"<@&{paged.responders.id}>"
    await ingest(paged, signal(title=f"@everyone {responders} disk full"))
    (card,) = posts(paged)
    await escalate(paged, clock, 5)
    (ping,) = pings(paged)
    oncall = paged.oncall.id  # type: ignore[attr-defined]
    assert ping.content.startswith(f"🔔 <@&{oncall}> **@everyone {responders} disk full** (db1)")
    assert "has been firing for 5m without acknowledgement (reminder 1 of 3)" in ping.content
    assert f"channels/{paged.guild.id}/{card.channel.id}/{card.id}" in ping.content
    request = creates(paged, alerts_channel(paged))[-1]
    mentions = request.json["allowed_mentions"]
    assert mentions["parse"] == [] and [int(r) for r in mentions["roles"]] == [oncall]
    assert set(mentions) <= {"parse", "roles", "replied_user"}
    message = stored(paged, ping)
    assert message.ping_role_ids == [oncall] and not message.mention_everyone
    assert request.json["nonce"].startswith("es")


async def test_three_oncall_pings_then_the_escalation_role(paged: World, clock):
    """5, 10, 15 min: on-call; 20 min: the escalation role; then quiet."""
    await ingest(paged, signal())
    for _ in range(6):
        await escalate(paged, clock, 5)
    roles = [stored(paged, p).ping_role_ids for p in pings(paged)]
    oncall, leads = paged.oncall.id, paged.escalation.id  # type: ignore[attr-defined]
    assert roles == [[oncall], [oncall], [oncall], [leads]]
    assert "still unacknowledged after 3 on-call reminders" in pings(paged)[-1].content


async def test_acknowledging_stops_the_pings(paged: World, clock):
    """Taken after the first ping: no second one."""
    await ingest(paged, signal())
    await escalate(paged, clock, 5)
    (card,) = posts(paged)[:1]
    await paged.alice.click(card, label="Acknowledge")
    await escalate(paged, clock, 5)
    assert len(pings(paged)) == 1


async def test_a_ping_made_stale_before_delivery_is_not_sent(paged: World, clock, doorbell):
    """Escalated, then acknowledged before the relay got to it: nobody is woken up."""
    (result,) = await ingest(paged, signal())
    target = doorbell.target
    doorbell.target = None  # the relay hears of nothing until we say so
    clock.advance(minutes=5)
    await paged.env.bot.services.alerts.escalate_due()
    alice = Member(Person(paged.alice.id, "alice"), frozenset({paged.responders.id}))
    await paged.env.bot.services.alerts.acknowledge(paged.guild.id, alice, result.alert.id)
    doorbell.target = target
    paged.env.bot.notifier.wake()
    await paged.env.settle()
    assert pings(paged) == []
    async with paged.env.bot.uow_factory() as uow:
        assert await uow.outbox.pending() == []


async def test_without_an_oncall_role_the_message_says_so_and_pings_nobody(ready: World, clock):
    """Setup without on-call role: the reminder still shows, naming the missing setting."""
    await ingest(ready, signal())
    await escalate(ready, clock, 5)
    (ping,) = pings(ready)
    assert "No on-call role is configured, so nobody was pinged" in ping.content
    assert creates(ready, alerts_channel(ready))[-1].json["allowed_mentions"] == {"parse": []}
    assert stored(ready, ping).ping_role_ids == []


async def test_queued_escalations_of_one_alert_make_one_ping(paged: World, clock, doorbell):
    """The relay was away for two escalations: one ping on return, not a burst."""
    await ingest(paged, signal())
    target, doorbell.target = doorbell.target, None
    clock.advance(minutes=5)
    await paged.env.bot.services.alerts.escalate_due()
    clock.advance(minutes=5)
    await paged.env.bot.services.alerts.escalate_due()
    doorbell.target = target
    paged.env.bot.notifier.wake()
    await paged.env.settle()
    (ping,) = pings(paged)
    assert "(reminder 2 of 3)" in ping.content

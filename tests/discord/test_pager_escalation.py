"""Pings and pages at each escalation level together (real Apprise to an ntfy receiver on
loopback, the real relay under SimCord): the pager follows the role that is pinged, and
Acknowledge stops both."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.adapters.paging import AppriseUrls, PagerSender
from bot.core.model import Member, Person
from bot.core.paging import GATHER, PagerLevel
from bot.core.services import Services
from tests.discord.conftest import World
from tests.discord.test_alert_escalation import escalate, paged, pings, stored  # noqa: F401
from tests.discord.test_alert_relay import ingest, posts, signal
from tests.receivers import NtfyReceiver

ADMIN = Member(Person(1, "admin"), manage_guild=True)


@pytest.fixture
def services(uow_factory, clock) -> Services:
    return Services.build(uow_factory, clock, pager_urls=AppriseUrls(Fernet.generate_key()))


async def level(world: World, clock, sender: PagerSender) -> None:
    """Five minutes on: the escalation sweep, the pings, then the pages."""
    await escalate(world, clock, 5)
    clock.advance(seconds=GATHER.total_seconds())
    await sender.send_due()
    await sender.drain()


async def test_pages_go_out_with_the_pings_of_each_level(paged: World, clock):  # noqa: F811
    services = paged.env.bot.services
    sender = PagerSender(services.paging, clock)
    oncall, leads = paged.oncall.id, paged.escalation.id  # type: ignore[attr-defined]
    async with NtfyReceiver() as ntfy:
        guild = paged.guild.id
        await services.paging.add(guild, ADMIN, ntfy.url("phone"), name="phone")
        await services.paging.add(
            guild, ADMIN, ntfy.url("boss"), name="boss", level=PagerLevel.ESCALATION
        )
        await ingest(paged, signal())
        for _ in range(5):
            await level(paged, clock, sender)
        roles = [stored(paged, p).ping_role_ids for p in pings(paged)]
        assert roles == [[oncall], [oncall], [oncall], [leads]]
        assert [m.topic for m in ntfy.messages] == ["phone", "phone", "phone", "boss"]
        assert [m.priority for m in ntfy.messages] == [5, 5, 5, 5]


async def test_acknowledge_stops_the_pings_and_the_pages(paged: World, clock):  # noqa: F811
    services = paged.env.bot.services
    sender = PagerSender(services.paging, clock)
    async with NtfyReceiver() as ntfy:
        await services.paging.add(paged.guild.id, ADMIN, ntfy.url("phone"), name="phone")
        await ingest(paged, signal())
        await level(paged, clock, sender)
        assert len(pings(paged)) == 1 and len(ntfy.messages) == 1
        (card,) = posts(paged)[:1]
        await paged.alice.click(card, label="Acknowledge")
        for _ in range(3):
            await level(paged, clock, sender)
        assert len(pings(paged)) == 1 and len(ntfy.messages) == 1

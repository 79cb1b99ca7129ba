"""Pagers end to end below Discord: real SQLite/PostgreSQL, real Apprise, real receivers on
loopback (an SMTP server and an ntfy publish endpoint), the real sender and the real
`/ack/{code}` routes; escalation on a hand-moved clock.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.adapters.db import SqlUnitOfWork
from bot.adapters.db.tables import pager_pages, pagers
from bot.adapters.http.health import ReadinessCheck
from bot.adapters.http.server import build_web_app
from bot.adapters.metrics import Metrics
from bot.adapters.paging import AppriseUrls, PagerSender
from bot.adapters.paging.sender import LEASE
from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.errors import ValidationError
from bot.core.events import Topic
from bot.core.model import GuildConfig, Member, Person, Severity
from bot.core.paging import GATHER, PagerLevel
from bot.core.services import Services, ingest_signals
from bot.core.services._base import IncidentRef
from tests.fakes import FakeClock
from tests.integration.databases import Database
from tests.receivers import NtfyReceiver, SmtpReceiver

GUILD = 1_180_000_000_000_000_777
ADMIN = Member(Person(1_190_000_000_000_000_001, "alice"), manage_guild=True)
ACK = re.compile(r"http://opsroom\.test/ack/([A-Za-z0-9_-]+)")
KEY = Fernet.generate_key()


class Harness:
    """One Opsroom over the test database: services, the pager sender, the HTTP app."""

    def __init__(self, database: Database, clock: FakeClock) -> None:
        self.clock = clock
        self.uow_factory = lambda: SqlUnitOfWork(database.sessions, clock=clock)
        self.services = Services.build(
            self.uow_factory, clock, pager_urls=AppriseUrls(KEY), public_url="http://opsroom.test"
        )
        self.sender = PagerSender(self.services.paging, clock, timeout=20)
        self.database = database

    async def setup_guild(self, **config: object) -> None:
        async with self.uow_factory() as uow:
            await uow.guilds.save(
                GuildConfig(
                    GUILD,
                    responder_role_id=5,
                    oncall_role_id=6,
                    escalation_role_id=7,
                    alerts_channel_id=8,
                    **config,
                )  # type: ignore[arg-type]
            )
            await uow.commit()
        self.webhook, _ = await self.services.webhooks.create(
            GUILD, AlertSource.EVENTS, "agent", ADMIN
        )

    async def fire(self, *streams: str) -> list[int]:
        """One webhook request triggering an alert per stream; their ids."""
        signals = [
            AlertSignal(
                AlertSource.EVENTS,
                SignalAction.TRIGGER,
                s,
                monitor=f"{s}-mon",
                title=f"{s} is down",
            )
            for s in streams
        ]
        async with self.uow_factory() as uow:
            results = await ingest_signals(uow, self.webhook, signals, self.clock.now())
            await uow.commit()
        return [r.alert.id for r in results if r.alert and r.alert.id]

    async def escalate_and_send(self, minutes: float = 5) -> None:
        """Move the clock, run the escalation sweep, gather, send every due page."""
        self.clock.advance(minutes=minutes)
        await self.services.alerts.escalate_due()
        self.clock.advance(seconds=GATHER.total_seconds())
        await self.sender.send_due()
        await self.sender.drain()

    async def notices(self) -> list[str]:
        async with self.uow_factory() as uow:
            events = await uow.outbox.pending(10_000)
            return [
                (await uow.paging.notice(e.event.subject_id)).text  # type: ignore[union-attr]
                for e in events
                if e.event.topic is Topic.PAGING_NOTICE
            ]


@pytest.fixture
async def app(database: Database) -> Harness:
    clock = FakeClock()
    harness = Harness(database, clock)
    await harness.setup_guild()
    return harness


@pytest.fixture
async def http(app: Harness) -> AsyncIterator[TestClient]:
    checks: dict[str, ReadinessCheck] = {}
    web_app = build_web_app(
        services=app.services,
        uow_factory=app.uow_factory,
        metrics=Metrics(),
        readiness_checks=checks,
        clock=app.clock,
    )
    async with TestClient(TestServer(web_app)) as client:
        yield client


async def test_pager_urls_are_checked_masked_and_sealed(app: Harness):
    with pytest.raises(ValidationError, match="Apprise cannot use"):
        await app.services.paging.add(GUILD, ADMIN, "nonsense://whatever")
    pager = await app.services.paging.add(
        GUILD, ADMIN, "ntfy://bob:hunter2secret@127.0.0.1:9/phone", name="phone"
    )
    assert "hunter2secret" not in pager.url_masked and "****" in pager.url_masked
    async with app.database.engine.connect() as connection:
        row = (await connection.execute(select(pagers))).mappings().one()
    assert all("hunter2secret" not in str(value) for value in row.values())
    assert AppriseUrls(KEY).open(row["url_secret"]).startswith("ntfy://bob:hunter2secret@")
    with pytest.raises(ValidationError, match="already a pager named"):
        await app.services.paging.add(GUILD, ADMIN, "ntfy://127.0.0.1:9/other", name="Phone")


async def test_a_storm_pages_each_pager_once_per_level_and_the_link_stops_it(
    app: Harness, http: TestClient
):
    async with NtfyReceiver() as ntfy, SmtpReceiver() as smtp:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        await app.services.paging.add(GUILD, ADMIN, smtp.url(), name="mail")
        await app.services.paging.add(
            GUILD, ADMIN, ntfy.url("cofounder"), name="cofounder", level=PagerLevel.ESCALATION
        )
        ids = await app.fire(*(f"svc{i}" for i in range(300)))
        assert len(ids) == 300

        await app.escalate_and_send()  # level 1: on-call pagers only
        [page] = await ntfy.wait(1)
        [mail] = await smtp.wait(1)
        assert page.topic == "phone" and page.priority == 5
        assert page.title == "Opsroom: 300 alerts not acknowledged"
        assert "svc0 is down" in page.message and "and 290 more" in page.message
        assert "Escalation level 1" in page.message
        # Tapping the ntfy notification opens the acknowledge link named in the message.
        assert page.click is not None and page.click in page.message and ACK.match(page.click)
        assert mail["Subject"] == "Opsroom: 300 alerts not acknowledged"
        assert "svc9 is down" in mail.get_body(preferencelist=("plain",)).get_content()

        await app.escalate_and_send()  # level 2
        await app.escalate_and_send()  # level 3
        await ntfy.wait(3)
        await smtp.wait(3)
        await app.escalate_and_send()  # level 4: the escalation pager, once
        messages = await ntfy.wait(4)
        assert [m.topic for m in messages] == ["phone", "phone", "phone", "cofounder"]
        assert len(smtp.messages) == 3
        # On the record: each pager page is one Page per alert it named, beside the pings.
        async with app.uow_factory() as uow:
            record = await uow.pages.for_alerts([ids[0], ids[299]])
        pagers_paged = [(p.target.value, p.target_name, p.level) for p in record]
        for alert_level in (1, 2, 3):
            assert pagers_paged.count(("pager", "phone", alert_level)) == 2
            assert pagers_paged.count(("pager", "mail", alert_level)) == 2
        assert pagers_paged.count(("pager", "cofounder", 4)) == 2
        assert len(record) == 2 * (4 + 3 + 3 + 1)  # the pings (role) too, once a level

        # Acknowledge from the lock screen: GET shows, POST acknowledges.
        code = ACK.search(messages[-1].message).group(1)  # type: ignore[union-attr]
        shown = await http.get(f"/ack/{code}")
        assert shown.status == 200 and "Acknowledge 300 alert(s)" in await shown.text()
        assert (await app.services.alerts.get(GUILD, ids[0])).acknowledged_at is None
        done = await http.post(f"/ack/{code}")
        assert done.status == 200 and "Acknowledged as pager" in await done.text()
        alert = await app.services.alerts.get(GUILD, ids[123])
        assert alert.acknowledged_by is not None
        assert alert.acknowledged_by.name == "pager 'cofounder'"

        await app.escalate_and_send(minutes=30)
        assert len(ntfy.messages) == 4 and len(smtp.messages) == 3  # nothing more

        again = await http.post(f"/ack/{code}")
        assert again.status == 404 and "already used" in await again.text()
        forged = await http.get("/ack/" + "A" * 43)
        assert forged.status == 404 and "not valid" in await forged.text()
        odd = await http.post("/ack/%00%3Cscript%3E")
        assert odd.status == 404


@pytest.mark.parametrize("how", ["button", "resolve", "declare"])
async def test_acknowledge_resolve_and_declare_stop_pages(app: Harness, how: str):
    async with NtfyReceiver() as ntfy:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        [first, second] = await app.fire("db", "web")
        await app.escalate_and_send()
        [page] = await ntfy.wait(1)
        assert "db is down" in page.message and "web is down" in page.message
        for alert_id in (first, second):
            if how == "button":
                await app.services.alerts.acknowledge(GUILD, ADMIN, alert_id)
            elif how == "resolve":
                signal = AlertSignal(
                    AlertSource.EVENTS,
                    SignalAction.RESOLVE,
                    "db" if alert_id == first else "web",
                    "m",
                    "t",
                )
                async with app.uow_factory() as uow:
                    await ingest_signals(uow, app.webhook, [signal], app.clock.now())
                    await uow.commit()
            else:
                await app.services.incidents.declare(
                    GUILD, ADMIN, title="Outage", severity=Severity.SEV2, alert_id=alert_id
                )
        await app.escalate_and_send(minutes=60)
        assert len(ntfy.messages) == 1


async def test_a_page_waiting_when_its_alerts_are_taken_is_dropped(app: Harness):
    async with NtfyReceiver() as ntfy:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        [alert_id] = await app.fire("db")
        app.clock.advance(minutes=5)
        await app.services.alerts.escalate_due()
        await app.services.alerts.acknowledge(GUILD, ADMIN, alert_id)
        app.clock.advance(seconds=5)
        await app.sender.send_due()
        await app.sender.drain()
        assert ntfy.messages == [] and app.sender.sent == 0


async def test_expired_links_are_refused(app: Harness, http: TestClient):
    async with NtfyReceiver() as ntfy:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        [alert_id] = await app.fire("db")
        await app.escalate_and_send()
        [page] = await ntfy.wait(1)
        code = ACK.search(page.message).group(1)  # type: ignore[union-attr]
        app.clock.advance(hours=24)
        for method in ("GET", "POST"):
            answer = await http.request(method, f"/ack/{code}")
            assert answer.status == 404 and "expired" in await answer.text()
        assert (await app.services.alerts.get(GUILD, alert_id)).acknowledged_at is None


async def test_a_failing_pager_is_retried_reported_once_and_never_delays_the_others(
    app: Harness,
):
    async with SmtpReceiver() as smtp:
        await app.services.paging.add(
            GUILD, ADMIN, "ntfy://bob:pw1234567@127.0.0.1:1/x", name="phone"
        )  # nothing listens on port 1
        await app.services.paging.add(GUILD, ADMIN, smtp.url(), name="mail")
        await app.fire("db")
        await app.escalate_and_send()
        await smtp.wait(1)  # the good pager got its page in the same round
        notices = await app.notices()
        assert len(notices) == 1 and notices[0].startswith("⚠️ pager 'phone' failed: ")
        assert "pw1234567" not in notices[0]
        for _ in range(3):  # retries with back-off: reported once, not again
            app.clock.advance(minutes=5)
            await app.sender.send_due()
            await app.sender.drain()
        assert len(await app.notices()) == 1
        async with app.database.engine.connect() as connection:
            rows = (await connection.execute(select(pager_pages))).mappings().all()
        failing = [r for r in rows if r["last_error"]]
        assert failing and failing[0]["attempts"] >= 2 and failing[0]["sent_at"] is None
        assert "pw1234567" not in failing[0]["last_error"]


async def test_a_pager_that_recovers_says_so(app: Harness):
    async with NtfyReceiver() as ntfy:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        ntfy.fail_next = 1
        await app.fire("db")
        await app.escalate_and_send()
        app.clock.advance(minutes=1)
        await app.sender.send_due()
        await app.sender.drain()
        await ntfy.wait(1)
        notices = await app.notices()
        assert notices[0].startswith("⚠️ pager 'phone' failed: ")
        assert "broken on purpose" in notices[0]
        assert notices[1] == "✅ pager 'phone' works again."


async def test_test_page_is_answered_through_its_link(app: Harness, http: TestClient):
    async with NtfyReceiver() as ntfy:
        pager = await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        await app.services.paging.test(GUILD, ADMIN, pager.id)
        await app.sender.send_due()
        await app.sender.drain()
        [page] = await ntfy.wait(1)
        assert page.title == "Opsroom test page"
        code = ACK.search(page.message).group(1)  # type: ignore[union-attr]
        app.clock.advance(seconds=42)
        assert "test page" in await (await http.get(f"/ack/{code}")).text()
        assert (await http.post(f"/ack/{code}")).status == 200
        assert await app.notices() == ["✅ Test page to pager 'phone' answered after 42 seconds."]
        [stored] = await app.services.paging.list(GUILD)
        assert stored.last_test_ok_at == app.clock.now()


async def test_escalate_after_zero_turns_escalation_off(app: Harness):
    await app.services.guilds.tune(GUILD, ADMIN, {"escalate_after": "0"})
    async with NtfyReceiver() as ntfy:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        [alert_id] = await app.fire("db")
        await app.escalate_and_send(minutes=60)
        assert ntfy.messages == []
        assert (await app.services.alerts.get(GUILD, alert_id)).escalation_level == 0


async def test_a_page_leased_by_a_sender_that_died_is_sent_after_the_lease(app: Harness):
    async with NtfyReceiver() as ntfy:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        await app.fire("db")
        app.clock.advance(minutes=5)
        await app.services.alerts.escalate_due()
        app.clock.advance(seconds=GATHER.total_seconds())
        [claimed] = await app.services.paging.claim_due(LEASE)  # then the process died
        other = PagerSender(app.services.paging, app.clock)
        assert await other.send_due() == 0  # leased: nobody else sends it meanwhile
        app.clock.advance(seconds=LEASE.total_seconds())
        assert await other.send_due() == 1
        await other.drain()
        [page] = await ntfy.wait(1)
        assert "db is down" in page.message and claimed.id is not None


async def test_a_pager_page_is_on_the_timeline_of_the_alerts_incident(app: Harness):
    """Every page is on the record of the alert's incident: the pager's as well as the ping."""
    async with NtfyReceiver() as ntfy:
        await app.services.paging.add(GUILD, ADMIN, ntfy.url("phone"), name="phone")
        incident = await app.services.incidents.declare(
            GUILD, ADMIN, title="Outage", severity=Severity.SEV2
        )
        [alert_id] = await app.fire("db")
        await app.services.alerts.attach(GUILD, ADMIN, alert_id, IncidentRef(incident.number))
        await app.escalate_and_send()
        await ntfy.wait(1)
        async with app.uow_factory() as uow:
            assert incident.id is not None
            entries = await uow.timeline.list(incident.id)
        pages = [e.text for e in entries if e.kind.value == "page"]
        assert pages == [
            "Escalation 1: paged on-call role for alert: db is down",
            "Escalation 1: paged phone for alert: db is down",
        ]

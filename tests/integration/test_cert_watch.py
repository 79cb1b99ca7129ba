"""Certificate watch against real TLS servers on loopback, on SQLite and PostgreSQL.

Every certificate is made in the test by a CA the probe is told to trust (its only trust
anchor, in place of the system store); the handshake is real (`ssl`, chain and host name
verified). The core's clock is a FakeClock started at the real now and moved by hand, so
"20 days left" becomes 14, 7 and 2 days left without waiting, while the handshake itself
checks validity against the real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.tls import TlsProbe, is_private
from bot.core.alerts import Alert, AlertSource
from bot.core.certs import STAGES, CertWatch, Problem, stream_key
from bot.core.errors import ConflictError, ValidationError
from bot.core.model import EntryKind, Member, Person, Severity
from bot.core.services import IncidentRef, Services
from tests.fakes import FakeClock
from tests.tls_certs import Authority, tls_server

GUILD = 1_180_000_000_000_000_007
ADMIN = Member(Person(1_190_000_000_000_000_017, "alice"), manage_guild=True)
OWNER, RUNBOOK = "@web-team", "https://wiki.example/renew-certs"


@pytest.fixture
def clock() -> FakeClock:
    """The core's clock, starting at the real now (certificates are made relative to it)."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


@pytest.fixture
def services(uow_factory, clock: FakeClock, authority: Authority) -> Services:
    """Services whose probe may check loopback and trusts only the test's CA."""
    probe = TlsProbe(allow_private=True, timeout=5.0, cafile=str(authority.cafile))
    return Services.build(uow_factory, clock, probe=probe)


async def firing(services: Services, uow_factory, watch: CertWatch) -> dict[str, Alert]:
    """The watch's open alerts by stage."""
    async with uow_factory() as uow:
        alerts = await uow.alerts.find_firing(
            [(GUILD, AlertSource.CERTIFICATE, stream_key(watch, s)) for s in STAGES]
        )
    return {a.stream_key.split(":", 1)[1]: a for a in alerts}


async def move_to(services: Services, clock: FakeClock, at: datetime) -> list[CertWatch]:
    """Move the clock to `at` and run the clock's certificate sweep."""
    clock.current = at
    return await services.certs.check_due()


async def test_twenty_days_crosses_each_threshold_and_a_renewal_resolves_all(
    services: Services, uow_factory, clock: FakeClock, authority: Authority
) -> None:
    """20 days left: quiet; then 14 and 7 days (notices), 2 days (pages); renewal ends all."""
    leaf = authority.issue(valid_for=timedelta(days=20))
    async with tls_server(leaf) as server:
        watch, check = await services.certs.add(
            GUILD, ADMIN, "localhost", server.port, OWNER, RUNBOOK
        )
        assert check.problem is None and check.not_after == leaf.not_after
        assert server.handshakes == 1  # checked at once on creation
        assert await firing(services, uow_factory, watch) == {}
        [stored] = await services.certs.list(GUILD)
        assert stored.not_after == leaf.not_after and stored.owner == OWNER
        assert stored.next_check_at == clock.now() + timedelta(hours=6)
        [timer] = await services.timers.pending()
        assert (timer.key, timer.sweep.value, timer.due_at) == (
            f"certificate:{watch.id}",
            "certificates",
            stored.next_check_at,
        )

        # Six hours on: checked again (at least every 6 hours), still quiet.
        assert await move_to(services, clock, clock.now() + timedelta(hours=6))
        assert server.handshakes == 2 and await firing(services, uow_factory, watch) == {}

        # 14 days before expiry: a notice that names host, owner and runbook, never pages.
        end = leaf.not_after
        await move_to(services, clock, end - timedelta(days=14) + timedelta(minutes=1))
        open_ = await firing(services, uow_factory, watch)
        assert set(open_) == {"14d"}
        notice = open_["14d"]
        assert notice.title == f"TLS certificate of localhost:{server.port} expires in 13 days"
        assert notice.details["Owner"] == OWNER and notice.details["Runbook"] == RUNBOOK
        assert notice.details["Host"] == f"localhost:{server.port}"
        assert notice.link == RUNBOOK
        assert notice.next_escalation_at is None and notice.severity == "warning"

        # The next check is planned for the 7-day moment itself when that comes first.
        await move_to(services, clock, end - timedelta(days=7) - timedelta(hours=1))
        [again] = await services.certs.list(GUILD)
        assert again.next_check_at == end - timedelta(days=7)
        await move_to(services, clock, end - timedelta(days=7))
        open_ = await firing(services, uow_factory, watch)
        assert set(open_) == {"14d", "7d"}
        assert open_["7d"].next_escalation_at is None
        assert open_["14d"].id == notice.id  # the earlier notice is not repeated

        # 2 days before: this one escalates like any alert.
        await move_to(services, clock, end - timedelta(days=2))
        open_ = await firing(services, uow_factory, watch)
        assert set(open_) == {"14d", "7d", "2d"}
        urgent = open_["2d"]
        assert urgent.severity == "critical"
        assert urgent.next_escalation_at == clock.now() + timedelta(minutes=5)
        clock.advance(minutes=5)
        escalated = await services.alerts.escalate_due()
        assert [a.id for a, _ in escalated] == [urgent.id]

        # Renewed: the next check sees the new certificate and resolves every stage.
        renewed = authority.issue(valid_for=timedelta(days=90))
        server.serve(renewed)
        await move_to(services, clock, clock.now() + timedelta(hours=6))
        assert await firing(services, uow_factory, watch) == {}
        async with uow_factory() as uow:
            for alert in open_.values():
                stored_alert = await uow.alerts.get(alert.id)
                assert stored_alert is not None and stored_alert.resolved_at == clock.now()
        [after] = await services.certs.list(GUILD)
        assert after.not_after == renewed.not_after and after.problem is None


async def test_ten_days_left_is_a_notice_at_once(
    services: Services, uow_factory, authority: Authority
) -> None:
    """A watch added 10 days before expiry opens the 14-day notice right away, nothing else."""
    async with tls_server(authority.issue(valid_for=timedelta(days=10))) as server:
        watch, _ = await services.certs.add(GUILD, ADMIN, "localhost", server.port)
        open_ = await firing(services, uow_factory, watch)
        assert set(open_) == {"14d"}
        assert "expires in 10 days" in open_["14d"].title
        assert open_["14d"].details["Owner"].startswith("not set")


async def test_thirty_six_hours_pages_and_is_put_on_open_incidents(
    services: Services, uow_factory, clock: FakeClock, authority: Authority
) -> None:
    """36 hours left while an incident is open: the 2-day alert alone, and the incident's
    timeline hears of it once; resolving the incident checks the certificates again."""
    incident = await services.incidents.declare(
        GUILD, ADMIN, title="Checkout errors", severity=Severity.SEV2
    )
    other = await services.incidents.declare(
        GUILD, ADMIN, title="Slow search", severity=Severity.SEV3
    )
    leaf = authority.issue(valid_for=timedelta(hours=36))
    async with tls_server(leaf) as server:
        watch, _ = await services.certs.add(GUILD, ADMIN, "localhost", server.port, OWNER, RUNBOOK)
        open_ = await firing(services, uow_factory, watch)
        assert set(open_) == {"2d"}  # the most severe threshold only, not 14d and 7d too
        urgent = open_["2d"]
        assert urgent.next_escalation_at is not None
        for number in (incident.number, other.number):
            entries = await services.timeline.show(GUILD, IncidentRef(number))
            posted = [e for e in entries if e.alert_id == urgent.id]
            assert len(posted) == 1, entries
            assert posted[0].kind is EntryKind.ALERT
            assert f"localhost:{server.port} expires in 36 hours" in posted[0].text
            assert OWNER in posted[0].text and RUNBOOK in posted[0].text

        # Resolving an incident makes every watch due now; the re-check posts nothing twice.
        before = server.handshakes
        clock.advance(minutes=30)
        await services.incidents.resolve(GUILD, ADMIN, IncidentRef(incident.number))
        assert await services.certs.check_due()
        assert server.handshakes == before + 1
        entries = await services.timeline.show(GUILD, IncidentRef(other.number))
        assert len([e for e in entries if e.alert_id == urgent.id]) == 1


@pytest.mark.parametrize(
    ("case", "stage"),
    [("expired", "expired"), ("wrong name", "wrong_name"), ("untrusted CA", "untrusted")],
)
async def test_failed_handshakes_page_at_once_and_resolve_when_fixed(
    services: Services,
    uow_factory,
    clock: FakeClock,
    authority: Authority,
    tmp_path: Path,
    case: str,
    stage: str,
) -> None:
    """Expired, wrong host name, untrusted chain: an escalating alert on the first check."""
    if case == "expired":
        leaf = authority.issue(not_after=datetime.now(UTC) - timedelta(days=1))
    elif case == "wrong name":
        leaf = authority.issue("other.example", valid_for=timedelta(days=60))
    else:
        leaf = Authority(tmp_path, "Somebody Else CA").issue(valid_for=timedelta(days=60))
    async with tls_server(leaf) as server:
        watch, check = await services.certs.add(GUILD, ADMIN, "localhost", server.port, OWNER)
        assert check.problem is Problem(stage)
        open_ = await firing(services, uow_factory, watch)
        assert set(open_) == {stage}
        alert = open_[stage]
        assert alert.next_escalation_at is not None and alert.details["Owner"] == OWNER
        assert alert.details["Problem"] == check.detail
        # Fixed: a valid certificate from the trusted CA resolves it at the next check.
        server.serve(authority.issue(valid_for=timedelta(days=60)))
        await move_to(services, clock, clock.now() + timedelta(hours=1))
        assert await firing(services, uow_factory, watch) == {}


async def test_unreachable_alerts_after_three_failed_checks_as_a_notice(
    services: Services, uow_factory, clock: FakeClock, authority: Authority
) -> None:
    """Nobody listening: retried every 10 minutes, a notice on the third failure in a row,
    resolved by the next successful handshake."""
    async with tls_server(authority.issue()) as server:
        port = server.port
    watch, check = await services.certs.add(GUILD, ADMIN, "localhost", port)
    assert check.problem is Problem.UNREACHABLE
    assert await firing(services, uow_factory, watch) == {}
    await move_to(services, clock, clock.now() + timedelta(minutes=10))
    assert await firing(services, uow_factory, watch) == {}
    await move_to(services, clock, clock.now() + timedelta(minutes=10))
    open_ = await firing(services, uow_factory, watch)
    assert set(open_) == {"unreachable"}
    assert open_["unreachable"].next_escalation_at is None  # a watch is not an uptime monitor
    async with tls_server(authority.issue(valid_for=timedelta(days=60)), port=port):
        await move_to(services, clock, clock.now() + timedelta(minutes=10))
    assert await firing(services, uow_factory, watch) == {}


async def test_a_handshake_that_never_finishes_times_out(authority: Authority) -> None:
    """A server that accepts and then says nothing: unreachable after the timeout, and the
    event loop keeps running meanwhile (the check is in a worker thread)."""
    hold = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hold.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(ticker())
    try:
        probe = TlsProbe(allow_private=True, timeout=0.5, cafile=str(authority.cafile))
        check = await probe.check("localhost", port)
    finally:
        beat.cancel()
        hold.set()
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
    assert check.problem is Problem.UNREACHABLE and "timed out" in check.detail
    assert ticks > 5


async def test_private_addresses_are_refused_unless_allowed(
    uow_factory, clock: FakeClock, authority: Authority
) -> None:
    """Loopback, private and link-local targets are refused, also behind a name that
    resolves to one (`localhost`); nothing is stored and no connection is made."""
    closed = Services.build(
        uow_factory, clock, probe=TlsProbe(allow_private=False, cafile=str(authority.cafile))
    )
    async with tls_server(authority.issue(valid_for=timedelta(days=60))) as server:
        for host in ("localhost", "127.0.0.1", "10.20.30.40", "169.254.169.254", "::1"):
            with pytest.raises(ValidationError, match="OPSROOM_WATCH_ALLOW_PRIVATE"):
                await closed.certs.add(GUILD, ADMIN, host, server.port)
        assert server.handshakes == 0
    assert await closed.certs.list(GUILD) == []


async def test_duplicates_bad_hosts_and_removal(
    services: Services, uow_factory, authority: Authority
) -> None:
    """One watch per host and port; a URL is read as its host; removing resolves its alerts."""
    async with tls_server(
        authority.issue(not_after=datetime.now(UTC) - timedelta(hours=1))
    ) as server:
        watch, _ = await services.certs.add(GUILD, ADMIN, f"https://LOCALHOST:{server.port}/x")
        assert watch.host == "localhost"
        with pytest.raises(ConflictError, match="already watched"):
            await services.certs.add(GUILD, ADMIN, "localhost", server.port)
    for bad in ("", "exa mple.com", "a" * 300, "-bad-.example"):
        with pytest.raises(ValidationError):
            await services.certs.add(GUILD, ADMIN, bad)
    assert set(await firing(services, uow_factory, watch)) == {"expired"}
    removed = await services.certs.remove(GUILD, ADMIN, watch.id)
    assert removed.id == watch.id
    assert await firing(services, uow_factory, watch) == {}
    assert await services.certs.list(GUILD) == []


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("fd00::1", True),
        ("::ffff:10.0.0.1", True),
        ("0.0.0.0", True),
        ("93.184.215.14", False),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False),
    ],
)
def test_which_addresses_are_private(address: str, private: bool) -> None:
    assert is_private(address) is private

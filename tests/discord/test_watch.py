"""`/opsroom webhook source:heartbeat …`, `/opsroom webhooks` with last pings, and
`/watch cert|list|remove` under SimCord, with a real TLS server on loopback.

The core's clock starts at the real now here: the certificates are real and so is the
handshake's check of their validity.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.tls import TlsProbe
from bot.core.alerts import AlertSource
from bot.core.services import Services
from tests.discord.conftest import World, acknowledge, declare
from tests.discord.test_alert_relay import fields, posts
from tests.discord.test_incidents import thread_lines, thread_of
from tests.fakes import FakeClock
from tests.tls_certs import Authority, tls_server

URL = re.compile(r"```\n(\S+)\n```")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


@pytest.fixture
def services(uow_factory, clock: FakeClock, authority: Authority) -> Services:
    probe = TlsProbe(allow_private=True, timeout=5.0, cafile=str(authority.cafile))
    return Services.build(uow_factory, clock, probe=probe)


async def test_heartbeat_webhook_and_its_last_ping(ready: World, clock: FakeClock) -> None:
    """`/opsroom webhook source:heartbeat name every grace`: a URL shown once; the list shows
    the schedule, then the last ping; a silence posts "Heartbeat … missed" in #alerts."""
    made = await ready.carol.slash(
        ready.general, "opsroom webhook", source="heartbeat", name="backup", every="5m"
    )
    assert made.ephemeral and "GET, HEAD or POST" in made.response.content
    url = URL.search(made.response.content).group(1)
    assert url.startswith("http://localhost:8080/hooks/heartbeat/")
    services = ready.env.bot.services
    listing = await ready.carol.slash(ready.general, "opsroom webhooks")
    assert "`1` **backup** · heartbeat · every 5m, grace 1m · no ping yet" in (
        listing.response.content
    )
    webhook = await services.webhooks.authenticate(url.rsplit("/", 1)[1], AlertSource.HEARTBEAT)
    clock.advance(minutes=2)
    await services.heartbeats.ping(webhook)
    listing = await ready.carol.slash(ready.general, "opsroom webhooks")
    stamp = int(clock.now().timestamp())
    assert f"every 5m, grace 1m · last ping <t:{stamp}:R>" in listing.response.content

    clock.advance(minutes=7)
    assert await services.heartbeats.fire_due()
    await ready.env.settle()
    (card,) = posts(ready)
    assert card.embeds[0].title == "Heartbeat backup missed"
    assert fields(card)["Source"] == "heartbeat"
    listing = await ready.carol.slash(ready.general, "opsroom webhooks")
    assert "⚠️ missed" in listing.response.content


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        ({"source": "heartbeat"}, "A heartbeat webhook needs `every`"),
        ({"source": "events", "every": "5m"}, "A heartbeat webhook needs `every`"),
        ({"source": "heartbeat", "every": "soon"}, "Could not read every 'soon'"),
        ({"source": "heartbeat", "every": "0s"}, "between 1 second and 31 days"),
        ({"source": "heartbeat", "grace": "1m"}, "`grace` goes with `every`"),
    ],
)
async def test_heartbeat_options_are_checked(ready: World, options: dict, reply: str) -> None:
    """A missing or unreadable schedule is one ephemeral line, and nothing is made."""
    result = await ready.carol.slash(ready.general, "opsroom webhook", **options)
    assert result.ephemeral and reply in result.response.content
    assert await ready.env.bot.services.webhooks.list(ready.guild.id) == []
    acknowledge(ready.env)


async def test_watch_cert_list_and_remove(ready: World, authority: Authority) -> None:
    """A responder watches a certificate (checked at once), lists it, removes it."""
    leaf = authority.issue(valid_for=timedelta(days=60))
    async with tls_server(leaf) as server:
        added = await ready.alice.slash(
            ready.general,
            "watch cert",
            host="localhost",
            port=server.port,
            owner="web team",
            runbook="https://wiki.example/certs",
        )
        assert added.ephemeral
        stamp = int(leaf.not_after.timestamp())
        assert added.response.content.startswith(
            f"🔒 Watch 1: localhost:{server.port} — ✅ valid until <t:{stamp}:D>"
        )
        listing = await ready.bob.slash(ready.general, "watch list")  # anyone may read
        assert listing.ephemeral
        lines = listing.response.content.splitlines()
        assert lines[0] == "**1 watched certificate**"
        assert lines[1].startswith(f"`1` **localhost:{server.port}** · ✅ valid until")
        assert "owner web team" in lines[1]
        refused = await ready.bob.slash(ready.general, "watch cert", host="example.com")
        assert refused.ephemeral and "can change incidents" in refused.response.content
        removed = await ready.alice.slash(ready.general, "watch remove", id=1)
        assert removed.response.content == f"🗑️ No longer watching localhost:{server.port}."
        again = await ready.alice.slash(ready.general, "watch remove", id=1)
        assert again.response.content == "There is no certificate watch 1 in this server."
    acknowledge(ready.env)


async def test_watch_refuses_private_addresses_in_one_line(ready: World) -> None:
    """With private addresses off (the default), `localhost` is refused, saying why."""
    ready.env.bot.services.certs.probe.allow_private = False
    result = await ready.alice.slash(ready.general, "watch cert", host="localhost")
    assert result.ephemeral
    assert result.response.content.startswith("Not watched: localhost resolves to")
    assert "OPSROOM_WATCH_ALLOW_PRIVATE" in result.response.content
    assert await ready.env.bot.services.certs.list(ready.guild.id) == []
    acknowledge(ready.env)


async def test_an_expiring_certificate_reaches_the_open_incident(
    ready: World, authority: Authority
) -> None:
    """Watched while an incident is open, 36 hours left: the 2-day alert in #alerts and a
    line in the incident's operating-room thread."""
    await declare(ready, "Checkout errors")
    async with tls_server(authority.issue(valid_for=timedelta(hours=36))) as server:
        await ready.alice.slash(ready.general, "watch cert", host="localhost", port=server.port)
    await ready.env.settle()
    (card,) = posts(ready)
    assert card.embeds[0].title.startswith(f"TLS certificate of localhost:{server.port} expires")
    texts = thread_lines(thread_of(ready))
    assert any(f"Watched TLS certificate of localhost:{server.port} expires" in t for t in texts)

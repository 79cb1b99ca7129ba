"""Pages that wake someone, end to end through the real `opsroom run` process: alerts from
an Events v2 webhook escalate, real Apprise pages a real SMTP server and an ntfy publish
endpoint on loopback, and the acknowledge link (GET, then POST) on the process's own HTTP
server acknowledges in the pager's name; the cards, the pings and the on-call role show it
on the Discord double.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet
from sqlalchemy import update

from bot.adapters.db import create_engine
from bot.adapters.db.tables import alerts
from tests.e2e.discord_double import DiscordDouble
from tests.e2e.opsroom import Crew, OpsroomProcess, bot_posts, reply_text
from tests.receivers import NtfyReceiver, SmtpReceiver

ACK = re.compile(r"(http://127\.0\.0\.1:\d+/ack/[A-Za-z0-9_-]+)")


async def _until(check, within: float = 30.0, what: str = "condition"):  # noqa: ANN001, ANN202
    """Wait for `check()` to be truthy (a condition on state, polled briefly)."""
    deadline = time.monotonic() + within
    while not (result := await check()):
        assert time.monotonic() < deadline, f"{what} not met within {within}s"
        await asyncio.sleep(0.1)
    return result


async def test_pages_acknowledge_links_and_test_pages_through_opsroom_run(
    discord_double: DiscordDouble, tmp_path: Path
):
    double = discord_double
    crew = Crew.join(double)
    oncall = double.world.add_role(double.guild, "On-call", mentionable=True)
    [bot_role_id] = double.guild.members[double.world.bot.id].roles
    bot_role = double.guild.roles[bot_role_id]
    bot_role.position = 99  # the bot's role is above the on-call role, as setup asks
    database = tmp_path / "opsroom.db"
    process = OpsroomProcess(double, tmp_path, database)
    process.env["OPSROOM_PAGER_KEY"] = Fernet.generate_key().decode()
    async with NtfyReceiver() as ntfy, SmtpReceiver() as smtp:
        try:
            await process.start()
            await process.wait_ready()
            done = await crew.run(
                crew.alice,
                "general",
                "opsroom setup",
                responder_role=crew.responders,
                oncall_role=oncall,
            )
            assert "Opsroom is set up" in reply_text(done)
            shown = await process.command("config", "--guild", str(double.guild.id))
            assert "escalate_after=5" in shown
            for url, name in ((ntfy.url("phone"), "phone"), (smtp.url(), "mail")):
                added = await double.slash(
                    double.guild,
                    "general",
                    crew.alice,
                    "oncall",
                    group="pager",
                    subcommand="add",
                    options={"url": url, "name": name},
                )
                assert "Pager added" in reply_text(added), reply_text(added)
            rotation = await crew.run(
                crew.alice,
                "general",
                "oncall rotation",
                members=f"<@{crew.carol.id}> <@{crew.bob.id}>",
                handoff="Mon 09:00",
            )
            assert "Rotation set" in reply_text(rotation)
            await _until(
                lambda: _true(oncall.id in double.guild.members[crew.carol.id].roles),
                what="carol holds the on-call role",
            )
            puts = [r.path for r in double.requests if r.method == "PUT" and "/roles/" in r.path]
            assert puts == [f"/guilds/{double.guild.id}/members/{crew.carol.id}/roles/{oncall.id}"]

            hook = await process.create_webhook(double.guild.id, "events", "agent")
            async with aiohttp.ClientSession() as http:
                for name in ("db", "web", "queue"):
                    body = {
                        "event_action": "trigger",
                        "dedup_key": name,
                        "payload": {
                            "summary": f"{name} is down",
                            "source": name,
                            "severity": "critical",
                        },
                    }
                    async with http.post(hook, json=body) as answer:
                        assert answer.status == 202
                await _until(lambda: _true(len(_cards(double)) == 3), what="3 alert cards")

                # Five minutes pass for the alerts only: their escalation is due now.
                engine = create_engine(f"sqlite+aiosqlite:///{database}")
                async with engine.begin() as connection:
                    await connection.execute(
                        update(alerts).values(
                            next_escalation_at=datetime.now(UTC) - timedelta(seconds=1)
                        )
                    )
                await engine.dispose()

                [page] = await ntfy.wait(1, within=40)
                [mail] = await smtp.wait(1, within=40)
                assert page.title == "Opsroom: 3 alerts not acknowledged" and page.priority == 5
                for name in ("db", "web", "queue"):
                    assert f"{name} is down" in page.message
                assert mail["Subject"] == page.title
                text = mail.get_body(preferencelist=("plain",)).get_content()
                assert "queue is down" in text and ACK.search(text)

                link = ACK.search(page.message).group(1)  # type: ignore[union-attr]
                assert link.startswith(process.url)
                async with http.get(link) as shown_page:
                    html = await shown_page.text()
                    assert shown_page.status == 200 and "Acknowledge 3 alert(s)" in html
                async with http.post(link) as answered:
                    assert answered.status == 200
                    assert "Acknowledged as pager" in await answered.text()
                async with http.post(link) as again:
                    assert again.status == 404 and "already used" in await again.text()

                await _until(
                    lambda: _true(all("pager 'phone'" in str(c.embeds) for c in _cards(double))),
                    what="cards acknowledged by the pager",
                )
                # The coalesced pings named exactly the on-call role, nobody else.
                pings = [m for m in bot_posts(double, "alerts") if "<@&" in m.content]
                assert pings
                for ping in pings:
                    assert ping.pinged_roles == [oncall.id]

                # A test page, answered through its link; the result is posted in #alerts.
                started = await crew.run(crew.alice, "general", "oncall test", pager=1)
                assert "Test page queued" in reply_text(started)
                messages = await ntfy.wait(2, within=30)
                assert messages[1].title == "Opsroom test page"
                test_link = ACK.search(messages[1].message).group(1)  # type: ignore[union-attr]
                async with http.get(test_link) as preview:
                    assert "test page" in await preview.text()
                async with http.post(test_link) as answered:
                    assert answered.status == 200
                await _until(
                    lambda: _true(
                        any(
                            "Test page to pager 'phone' answered after" in m.content
                            for m in bot_posts(double, "alerts")
                        )
                    ),
                    what="the test result in #alerts",
                )
        finally:
            await process.stop_quietly()


async def _true(value: bool) -> bool:
    return value


def _cards(double: DiscordDouble) -> list:
    return [m for m in bot_posts(double, "alerts") if m.embeds]

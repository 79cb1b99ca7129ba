"""A late-declared incident backfilled through the real `opsroom run` and the Discord double:
the exported draft's detection section says what really happened, and the picture is posted.

The story follows the public postmortem of Cloudflare's outage of 2 July 2019 (a WAF rule
deployed, the first PagerDuty page three minutes later, customers reporting meanwhile),
compressed and shifted so that its detection and response happen in the test's few minutes:
impact begins with a deploy (logged, and pasted later as evidence), a customer reports the
problem a minute before the monitor's alert fires, the alert reaches Opsroom three minutes
after it fired, the on-call role is paged before anyone declares, and the responder
backfills the report, the evidence and the start of impact after declaring.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bot.core.model import Member, Person
from bot.core.postmortem import utc_text
from bot.core.services import IncidentRef
from bot.core.timeparse import format_duration
from tests.e2e.discord_double import DiscordDouble
from tests.e2e.opsroom import Crew, OpsroomDatabase, OpsroomProcess, bot_posts, reply_text

SUMMARY = "Synthetic check: HTTP 502 from edge"
MONITOR = "synthetics-eu"
REPORT = "Customer ticket: every site behind us answers 502"
EVIDENCE = "deploy log: WAF managed rules updated (new XSS rule, regex .*(?:.*=.*))"


def iso(at: datetime) -> str:
    """The `at` option in ISO 8601 with its offset (the guild's timezone does not matter)."""
    return at.astimezone(UTC).isoformat()


async def post_trigger(url: str, fired: datetime) -> int:
    """The monitor's Events v2 trigger, with the time it fired."""
    body = {
        "event_action": "trigger",
        "dedup_key": "edge-502",
        "payload": {
            "summary": SUMMARY,
            "source": MONITOR,
            "severity": "critical",
            "timestamp": fired.isoformat(),
        },
    }
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        return response.status


def detection_section(markdown: str) -> list[str]:
    """The lines of section 5, without the blank ones."""
    section = markdown.split("## 5. Detection and response\n", 1)[1].split("\n## 6.", 1)[0]
    return [line for line in section.splitlines() if line.strip()]


async def test_a_backfilled_late_declaration_gets_a_truthful_detection_section(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    """Backdated report and evidence, an alert older than its receipt, a page before the alert
    was attached and a corrected start: the export's detection section, line by line."""
    double = discord_double
    crew = Crew.join(double)
    oncall = double.world.add_role(double.guild, "Oncall")
    process = OpsroomProcess(double, tmp_path, tmp_path / "opsroom.db")
    database = await OpsroomDatabase(tmp_path / "opsroom.db").open()
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
        assert "Opsroom is set up" in reply_text(done), reply_text(done)
        assert database.services is not None
        owner = Member(Person(crew.alice.id, "alice"), manage_guild=True)
        await database.services.guilds.configure(double.guild.id, owner, escalation_minutes=1)
        url = await process.create_webhook(double.guild.id, "events", "synthetics")

        fired = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
        assert await post_trigger(url, fired) == 202
        alerts = double.channel("alerts")
        await double.wait_until(lambda: len(bot_posts(double, alerts)) >= 1, 20.0, "the card")
        (card,) = bot_posts(double, alerts)
        # Nobody answers: a minute later the on-call role is paged, before any incident exists.
        await double.wait_until(
            lambda: any(f"<@&{oncall.id}>" in m.content for m in bot_posts(double, alerts)),
            120.0,
            "the on-call ping",
        )

        declared = await crew.run(
            crew.carol, "general", "incident declare", title="Edge returns 502", severity="sev1"
        )
        assert "declared" in reply_text(declared), reply_text(declared)
        attach = next(c for c in card.custom_ids() if c.startswith("opsroom:alert:attach:"))
        offer = await double.click(card, crew.carol, attach)
        (menu,) = offer.messages()
        pick = next(c for c in menu.custom_ids() if c.startswith("opsroom:alert:attach-to:"))
        attached = await double.click(menu, crew.carol, pick, values=["1"])
        assert "is attached to **#1 Edge returns 502**" in reply_text(attached)
        ack = next(c for c in card.custom_ids() if c.startswith("opsroom:alert:ack:"))
        await double.click(card, crew.carol, ack)

        working = "inc-1-edge-returns-502"
        report = await crew.run(
            crew.carol,
            working,
            "timeline add",
            text=REPORT,
            at=iso(fired - timedelta(minutes=1)),
            kind="report",
        )
        assert "added as report" in reply_text(report), reply_text(report)
        await crew.run(
            crew.carol,
            working,
            "timeline add",
            text=EVIDENCE,
            at=iso(fired - timedelta(minutes=2, seconds=30)),
            kind="evidence",
        )
        started = fired - timedelta(minutes=3)  # the deploy, found in the logs afterwards
        moved = await crew.run(
            crew.carol, working, "incident milestone", name="started", at=iso(started)
        )
        assert "Impact started of **#1 Edge returns 502**" in reply_text(moved), reply_text(moved)
        future = await crew.run(
            crew.carol,
            working,
            "incident milestone",
            name="detected",
            at=iso(datetime.now(UTC) + timedelta(minutes=10)),
        )
        assert future.ephemeral and "\n" not in reply_text(future)
        for command, options in (
            ("incident status", {"state": "monitoring"}),
            ("incident resolve", {}),
            ("incident close", {}),
        ):
            record = await crew.run(crew.carol, working, command, **options)
            assert record.answered, (command, reply_text(record))

        channel = double.channel(working)

        def draft_posts() -> list:
            return [m for m in bot_posts(double, channel) if m.attachments]

        await double.wait_until(lambda: draft_posts(), 30.0, "the draft posted on close")
        (posted,) = draft_posts()
        names = sorted(a["filename"] for a in posted.attachments)
        assert names == ["postmortem-1-edge-returns-502.md", "postmortem-1-edge-returns-502.png"]
        png = double.files[
            int(next(a for a in posted.attachments if a["filename"].endswith(".png"))["id"])
        ]
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and 20_000 < len(png) < 2_000_000

        picture = tmp_path / "incident.png"
        markdown = await process.command(
            "export", "--guild", str(double.guild.id), "--incident", "1", "--png", str(picture)
        )
        assert picture.read_bytes().startswith(b"\x89PNG") and picture.stat().st_size > 20_000

        incident = await database.services.incidents.get(double.guild.id, IncidentRef(number=1))
        (alert,) = await _alerts(database, incident.id)
        pages = await _pages(database, alert.id)
        assert pages and pages[0].sent_at < _attached_at(await database.entries(double.guild.id))
        assert alert.acknowledged_at is not None and alert.acknowledged_by is not None
        received, declared_at = alert.received_at, incident.declared_at
        reported = fired - timedelta(minutes=1)

        def since(at: datetime) -> str:
            return format_duration((at - started).total_seconds())

        delay = format_duration((received - fired).total_seconds())
        page_rows = [
            f"| {utc_text(p.sent_at)} | on-call role | {p.level} | {SUMMARY} | yes, by carol after "
            f"{format_duration((alert.acknowledged_at - p.sent_at).total_seconds())} |"
            for p in pages
        ]
        assert incident.mitigated_at is not None and incident.resolved_at is not None
        assert detection_section(markdown) == [
            f"- **First alert:** events, monitor {MONITOR}: {SUMMARY} "
            f"(fired {utc_text(fired)} UTC, received {utc_text(received)} UTC)",
            f"- **First human report:** carol at {utc_text(reported)} UTC, by a report entry: "
            f"{REPORT}",
            "- The first human report came 1m before the first alert fired "
            f"(it reached Opsroom {delay} after it fired).",
            f"{len(pages)} page(s) went out for the incident's alerts; 0 went unanswered:",
            "| Sent (UTC) | To | Escalation | Alert | Answered |",
            "|---|---|---|---|---|",
            *page_rows,
            "Each time below is measured from the start of impact (`started_at`, "
            f"{utc_text(started)} UTC)",
            'to the milestone stored on the incident; "not yet" means the incident has not '
            "reached it.",
            "| Measure | Milestone | At (UTC) | Since impact began |",
            "|---|---|---|---|",
            f"| Time to detect | detected | {utc_text(reported)} | 2m |",
            f"| Time to declare | declared | {utc_text(declared_at)} | {since(declared_at)} |",
            f"| Time to acknowledge | acknowledged | {utc_text(declared_at)} | "
            f"{since(declared_at)} |",
            f"| Time to mitigate | mitigated | {utc_text(incident.mitigated_at)} | "
            f"{since(incident.mitigated_at)} |",
            f"| Time to resolve | resolved | {utc_text(incident.resolved_at)} | "
            f"{since(incident.resolved_at)} |",
        ]
        assert await process.terminate() == 0
        assert "Traceback" not in process.stderr, process.stderr
    finally:
        await process.stop_quietly()
        await database.close()


async def _alerts(database: OpsroomDatabase, incident_id: int | None) -> list:
    assert incident_id is not None
    async with database.uow_factory() as uow:
        return await uow.alerts.for_incident(incident_id)


async def _pages(database: OpsroomDatabase, alert_id: int | None) -> list:
    assert alert_id is not None
    async with database.uow_factory() as uow:
        return await uow.pages.for_alerts([alert_id])


def _attached_at(entries: list) -> datetime:
    """When the alert was attached: the recording time of its "Alert firing" entry."""
    return next(e.recorded_at for e in entries if e.text.startswith("Alert firing:"))

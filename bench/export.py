"""Postmortem export of an incident with 10,000 timeline entries, against a bare Jinja2 loop.

    python bench/export.py                 # 10,000 entries, 5 timed exports
    python bench/export.py --entries 2000 --rounds 9

The incident is built through the real services into a fresh, migrated SQLite file:
declared from an alert, then notes (`TimelineService.add`, texts with the Markdown hazards
the filters must neutralise: pipes, newlines, `@everyone`, code spans, headings, links),
Discord messages (`add_message`, with jump links), and Alertmanager episodes of the same
stream arriving through `ingest_signals` (each new episode follows the stream onto the
open incident: "Alert firing" and "Alert resolved" entries, and a row in the alerts table).

Timed, end to end, several times: `export_markdown(services, guild, number)` — reading the
incident, its timeline, alerts, actions and notes in one unit of work, building the
draft's data and rendering the shipped template (in a worker thread, as the bot does).
Baseline, in the same run: a trivial Jinja2 template rendering a table of the same number
of rows from plain dicts (no database, no Markdown escaping).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_machine, spread, table  # noqa: E402

TARGET_SECONDS = 1.0
GUILD = 1_180_000_000_000_000_001
RESPONDER_ROLE = 900

TEXTS = [
    "Restarted api-7; error rate back under 1%",
    "Seeing 502s on the API | @everyone please hold deploys",
    "Root cause candidate:\nconnection pool exhausted after deploy 4.2",
    "`SELECT count(*) FROM sessions` takes 40 s on the replica",
    "# not a heading, just a hash",
    "Dashboard: https://grafana.example.com/d/api?from=now-1h&panel=(errors)",
    "Rolled back to 4.1 <script>alert(1)</script>",
    "- bullet-looking text\n- second line",
    "Customer support reports login failures in EU-West (ticket #4521)",
    "pg_stat_activity shows 480 idle-in-transaction sessions from worker pods",
]

TRIVIAL = (
    "| Time | Author | Entry |\n|---|---|---|\n"
    "{% for row in rows %}| {{ row.when }} | {{ row.author }} | {{ row.text }} |\n{% endfor %}"
)


class Clock:
    """A clock the builder moves by hand: one second per entry, times in the past."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current


async def build(path: Path, entries: int) -> tuple[object, int]:
    """A migrated SQLite file with one incident of `entries` timeline entries; the services."""
    from bot.adapters.db import SqlUnitOfWork, create_engine, session_factory, upgrade_to_head
    from bot.core.alerts import AlertSignal, AlertSource, SignalAction
    from bot.core.model import Member, Person, Severity
    from bot.core.services import ChatMessage, IncidentRef, Services, ingest_signals

    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    clock = Clock(datetime.now(UTC) - timedelta(seconds=entries + 3600))

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock=clock)

    services = Services.build(uow_factory, clock)
    admin = Member(Person(1, "carol"), frozenset(), manage_guild=True)
    people = [
        Member(Person(10 + n, name), frozenset({RESPONDER_ROLE}))
        for n, name in enumerate(["alice", "bob", "dana", "erin"])
    ]
    await services.guilds.configure(GUILD, admin, responder_role_id=RESPONDER_ROLE)
    webhook, _ = await services.webhooks.create(GUILD, AlertSource.ALERTMANAGER, "prod", None)

    def episode(n: int, action: SignalAction) -> AlertSignal:
        start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n)
        return AlertSignal(
            AlertSource.ALERTMANAGER,
            action,
            "fp-api",
            monitor="HighErrorRate · api-gateway",
            title="5xx above 5% | api-gateway",
            episode_key=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            link="https://prometheus.example.com/graph?g0.expr=errors",
            started_at=start,
            ended_at=start + timedelta(seconds=30) if action is SignalAction.RESOLVE else None,
        )

    async def ingest(signal: AlertSignal) -> int | None:
        async with uow_factory() as uow:
            [done] = await ingest_signals(uow, webhook, [signal], clock.now())
            await uow.commit()
        return done.alert.id if done.alert else None

    alert_id = await ingest(episode(0, SignalAction.TRIGGER))
    incident = await services.incidents.declare(
        GUILD, people[0], title="API returns 502s", severity=Severity.SEV1, alert_id=alert_id
    )
    ref = IncidentRef(number=incident.number)
    await services.incidents.link_discord(GUILD, incident.number, channel_id=7001)
    count = len(await services.timeline.show(GUILD, ref))
    n = 0
    while count < entries:
        n += 1
        clock.current += timedelta(seconds=1)
        actor = people[n % len(people)]
        kind = n % 20
        if kind == 0 and count + 2 <= entries:  # an alert episode: fires, then resolves
            await ingest(episode(n, SignalAction.TRIGGER))
            await ingest(episode(n, SignalAction.RESOLVE))
            count += 2
        elif kind == 1:
            message = ChatMessage(
                id=10_000_000 + n,
                channel_id=7001,
                author=actor.person,
                text=f"{TEXTS[n % len(TEXTS)]} (message {n})",
                sent_at=clock.current - timedelta(seconds=5),
                jump_url=f"https://discord.com/channels/{GUILD}/7001/{10_000_000 + n}",
            )
            await services.timeline.add_message(GUILD, actor, message)
            count += 1
        else:
            await services.timeline.add(GUILD, actor, ref, f"{TEXTS[n % len(TEXTS)]} ({n})")
            count += 1
    return (services, engine), incident.number


def trivial_template() -> object:
    """The baseline: a plain Jinja2 loop over the rows (compiled once, like the real one)."""
    import jinja2

    return jinja2.Environment(autoescape=False).from_string(TRIVIAL)


async def main_async(args: argparse.Namespace) -> None:
    from bot.core.services import IncidentRef
    from bot.postmortem.export import export_markdown
    from bot.postmortem.render import render_markdown

    workdir = Path(tempfile.mkdtemp(prefix="opsroom-bench-export-"))
    try:
        started = time.monotonic()
        (services, engine), number = await build(workdir / "export.db", args.entries)
        built = time.monotonic() - started
        draft = await services.postmortem.draft(GUILD, IncidentRef(number=number))  # type: ignore[attr-defined]
        rows = [{"when": r.when, "author": r.author, "text": r.text} for r in draft.timeline]
        trivial = trivial_template()
        exports, baselines, reads, renders, size = [], [], [], [], 0
        ref = IncidentRef(number=number)
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            t = time.perf_counter()
            markdown = await export_markdown(services, GUILD, number)  # type: ignore[arg-type]
            exports.append(time.perf_counter() - t)
            t = time.perf_counter()
            trivial.render(rows=rows)  # type: ignore[attr-defined]
            baselines.append(time.perf_counter() - t)
            size = len(markdown.encode())
            t = time.perf_counter()  # the two halves of the export, for the breakdown
            data = await services.postmortem.draft(GUILD, ref)  # type: ignore[attr-defined]
            reads.append(time.perf_counter() - t)
            t = time.perf_counter()
            render_markdown(data)
            renders.append(time.perf_counter() - t)
        await engine.dispose()  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_machine()
    print(
        f"{len(draft.timeline)} timeline rows ({len(draft.alerts)} alerts), built through the "
        f"services in {built:.0f} s; {args.rounds} rounds, median (min–max); "
        f"draft {size / 1024:.0f} KiB\n"
    )
    export_s = statistics.median(exports)
    ratio = export_s / statistics.median(baselines)
    met = export_s < TARGET_SECONDS
    print(
        table(
            ["what", "seconds", "× baseline", f"target (< {TARGET_SECONDS:.0f} s)"],
            [
                [
                    "trivial Jinja2 table, same rows (baseline)",
                    spread(baselines, "{:.3f}"),
                    "1.0",
                    "—",
                ],
                [
                    "`export_markdown` (read + build + render)",
                    spread(exports, "{:.3f}"),
                    f"{ratio:.1f}",
                    "met" if met else f"MISSED by {export_s - TARGET_SECONDS:.2f} s",
                ],
                [
                    "… of which: read the incident and build the draft data (`draft`)",
                    spread(reads, "{:.3f}"),
                    f"{statistics.median(reads) / statistics.median(baselines):.1f}",
                    "—",
                ],
                [
                    "… of which: render the shipped template (`render_markdown`)",
                    spread(renders, "{:.3f}"),
                    f"{statistics.median(renders) / statistics.median(baselines):.1f}",
                    "—",
                ],
            ],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

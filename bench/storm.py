"""Storm relay: 1,000 alerts from 100 monitors within 20 s into one guild, through the Discord
double with Discord's message limit (5 per 5 s per channel), against a naive relay.

    python bench/storm.py                       # one storm each, ≈ 100 s
    python bench/storm.py --rounds 2 --naive-wait 60

- `opsroom`: the real `python -m bot run --role all` (the process `opsroom run` starts: the
  webhook server, the gateway, the relay and the scheduler in one process) on a fresh SQLite
  file, pointed at a Discord double in this process, the guild set up with `/opsroom setup`
  by its owner. Every monitor POSTs one Alertmanager v4 group of 10 alerts (10 instances,
  each a stream of its own) to the real webhook server; the 100 POSTs are spread evenly
  over the window (one every 0.2 s by default).
- `naive` (the baseline): a minimal discord.py client, in this process, on a fresh double
  with an `#alerts` channel, behind a tiny aiohttp receiver for the same POSTs: for every
  alert it `await channel.send(...)`s one message at once, so discord.py posts them as fast
  as its own rate-limit handling lets it.

An alert is visible when a message in #alerts names it: its card (footer `Alert A12`) or a
line of a digest or of the digest's attached complete list (tests/e2e/storm.py), or, for the
naive relay, a message carrying its fingerprint. #alerts is read every 25 ms; an alert's
latency is from the moment its POST was sent (an upper bound on the time since receipt) to
the first read that shows it. The naive relay cannot finish 1,000 messages at 1 per second in
a bench of two minutes: it gets `--naive-wait` seconds after the last POST, and the rest of
its time is projected at the channel's limit (1 message/s), marked ≈.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import discord  # noqa: E402
from _common import median, print_machine, rss_kib, spread, table  # noqa: E402
from aiohttp import web  # noqa: E402

from bot.core.alerts import AlertSource  # noqa: E402
from tests.e2e.discord_double import MESSAGE_ROUTE, DiscordDouble, point_discord_py_at  # noqa: E402
from tests.e2e.opsroom import Crew, OpsroomDatabase, OpsroomProcess, bot_posts  # noqa: E402
from tests.e2e.storm import group, message_states, stored_alerts  # noqa: E402

TARGET_MESSAGES = 20
TARGET_ALL_S = 10.0
TARGET_FIRST_S = 1.0
TARGET_RSS_MB = 150.0
POLL = 0.025


@dataclass
class Run:
    """One relay's storm: what it cost in Discord and when each alert became visible."""

    name: str
    alerts: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)  # fingerprint → POST sent
    seen_at: dict[str, float] = field(default_factory=dict)  # fingerprint → first visible
    first: str = ""  # fingerprint of the first alert POSTed
    statuses: list[int] = field(default_factory=list)
    messages: int = 0  # messages created in #alerts (POST .../messages that succeeded)
    posts: int = 0  # message POSTs sent to #alerts, answered or refused
    provoked_429s: int = 0
    storm_s: float = 0.0  # first POST sent → last POST answered
    rss_mib: float | None = None
    projected: bool = False

    def latencies(self) -> list[float]:
        return [self.seen_at[f] - self.sent_at[f] for f in self.seen_at if f in self.sent_at]

    @property
    def needed(self) -> int:
        """Messages it takes to show every alert: the naive relay's rest, one per alert."""
        return self.messages + (self.alerts - self.visible if self.projected else 0)

    @property
    def visible(self) -> int:
        return len(self.seen_at)

    @property
    def all_visible_s(self) -> float:
        """Longest receipt → visible over every alert; projected for the ones never seen."""
        worst = max(self.latencies(), default=float("nan"))
        missing = self.alerts - self.visible
        if missing <= 0:
            return worst
        # 1 message per second per channel from the end of the measurement onwards.
        last_sent = max(self.sent_at.values())
        waited = max(self.seen_at.values(), default=last_sent) - last_sent
        return max(worst, waited + missing * 1.0)

    @property
    def first_s(self) -> float | None:
        if self.first in self.seen_at:
            return self.seen_at[self.first] - self.sent_at[self.first]
        return None


def payloads(monitors: int, per_monitor: int) -> list[dict[str, Any]]:
    """One Alertmanager group of `per_monitor` alerts per monitor."""
    return [group(m, size=per_monitor) for m in range(monitors)]


def fingerprints(payload: dict[str, Any]) -> list[str]:
    return [a["fingerprint"] for a in payload["alerts"]]


async def storm(url: str, sends: list[dict[str, Any]], window: float, run: Run) -> None:
    """POST the n-th group at n × window/len(sends) s after the start, each on time."""
    gap = window / len(sends)
    async with aiohttp.ClientSession() as http:
        start = time.monotonic()

        async def one(index: int, payload: dict[str, Any]) -> int:
            await asyncio.sleep(max(0.0, start + index * gap - time.monotonic()))
            sent = time.monotonic()
            for f in fingerprints(payload):
                run.sent_at[f] = sent
            async with http.post(url, json=payload) as response:
                return response.status

        run.statuses = list(await asyncio.gather(*(one(i, p) for i, p in enumerate(sends))))
        run.storm_s = time.monotonic() - start


async def watch(double: DiscordDouble, labels: dict[str, str], run: Run, stop: asyncio.Event):
    """Read #alerts every POLL s; note when each alert is first shown. `labels` (filled as
    alerts are stored) maps `A12` → fingerprint; naive messages carry the fingerprint."""
    channel = double.channel("alerts")
    parsed: dict[tuple[int, int, int], set[str]] = {}
    while not stop.is_set():
        now = time.monotonic()
        for message in bot_posts(double, channel):
            key = (message.id, len(message.edits), len(message.files))
            names = parsed.get(key)
            if names is None:
                names = set(message_states(message))
                if not names and message.content.startswith("alert "):
                    names = {message.content.split()[1]}
                parsed[key] = names
            for name in names:
                fp = labels.get(name, name)
                if fp in run.sent_at and fp not in run.seen_at:
                    run.seen_at[fp] = now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL)


def alerts_channel_posts(double: DiscordDouble) -> tuple[int, int]:
    """(messages created, message POSTs sent) in #alerts."""
    channel = str(double.channel("alerts").id)
    posts = [r for r in double.requests_to(MESSAGE_ROUTE) if r.params["channel_id"] == channel]
    return sum(1 for r in posts if r.status == 200), len(posts)


async def run_opsroom(args: argparse.Namespace, workdir: Path, round_no: int) -> Run:
    run = Run("opsroom")
    sends = payloads(args.monitors, args.per_monitor)
    run.alerts = sum(len(p["alerts"]) for p in sends)
    run.first = fingerprints(sends[0])[0]
    path = workdir / f"opsroom-{round_no}.db"
    async with DiscordDouble(message_limit=(5, 5.0)) as double:
        crew = Crew.join(double)
        process = OpsroomProcess(double, workdir, path)
        try:
            await process.start()
            await process.wait_ready()
            await crew.setup()
            database = await OpsroomDatabase(path).open()
            try:
                assert database.services is not None
                _, token = await database.services.webhooks.create(
                    double.guild.id, AlertSource.ALERTMANAGER, "prometheus", None
                )
                labels: dict[str, str] = {}
                stop = asyncio.Event()
                watcher = asyncio.create_task(watch(double, labels, run, stop))

                async def learn_labels() -> None:
                    # the bot names alerts by id (A12); learn which fingerprint each is
                    while not stop.is_set():
                        labels.update(await stored_alerts(database.uow_factory, double.guild.id))
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 0.1)

                learner = asyncio.create_task(learn_labels())
                url = f"{process.url}/hooks/alertmanager/{token}"
                await storm(url, sends, args.window, run)
                with contextlib.suppress(TimeoutError):
                    await double.wait_until(lambda: run.visible >= run.alerts, args.drain)
                await asyncio.sleep(1.0)  # anything posted after the last alert showed
                stop.set()
                await asyncio.gather(watcher, learner)
                run.rss_mib = rss_kib(process.process.pid) / 1024  # type: ignore[union-attr]
            finally:
                await database.close()
            run.messages, run.posts = alerts_channel_posts(double)
            run.provoked_429s = double.limiter.provoked_429s
        finally:
            with contextlib.suppress(Exception):
                await process.terminate()
            await process.stop_quietly()
        if "Traceback" in process.stderr:
            print("opsroom logged a traceback:\n" + process.stderr[-3000:], file=sys.stderr)
    return run


class NaiveRelay(discord.Client):
    """One message per alert, each sent the moment its alert arrives."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.none())
        self.channel_id = 0
        self.sending: set[asyncio.Task[Any]] = set()

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = self.get_channel(self.channel_id) or await self.fetch_channel(self.channel_id)
        for alert in body["alerts"]:
            labels = alert["labels"]
            text = (
                f"alert {alert['fingerprint']} {alert['status']}: {labels.get('alertname')} on "
                f"{labels.get('instance')}: {alert['annotations'].get('summary', '')}"
            )
            task = asyncio.create_task(
                channel.send(text, allowed_mentions=discord.AllowedMentions.none())  # type: ignore[union-attr]
            )
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)
        return web.Response(status=202)


async def run_naive(args: argparse.Namespace) -> Run:
    run = Run("naive")
    sends = payloads(args.monitors, args.per_monitor)
    run.alerts = sum(len(p["alerts"]) for p in sends)
    run.first = fingerprints(sends[0])[0]
    async with DiscordDouble(message_limit=(5, 5.0)) as double:
        double.world.add_channel(double.guild, "alerts")
        with point_discord_py_at(double):
            client = NaiveRelay()
            client.channel_id = double.channel("alerts").id
            app = web.Application()
            app.router.add_post("/hooks/alertmanager/{token}", client.hook)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            async with double.running(client):
                stop = asyncio.Event()
                watcher = asyncio.create_task(watch(double, {}, run, stop))
                await storm(
                    f"http://127.0.0.1:{port}/hooks/alertmanager/x", sends, args.window, run
                )
                with contextlib.suppress(TimeoutError):
                    await double.wait_until(lambda: run.visible >= run.alerts, args.naive_wait)
                stop.set()
                await watcher
                run.projected = run.visible < run.alerts
                for task in list(client.sending):
                    task.cancel()
                await asyncio.gather(*client.sending, return_exceptions=True)
            await runner.cleanup()
        run.messages, run.posts = alerts_channel_posts(double)
        run.provoked_429s = double.limiter.provoked_429s
    return run


def verdicts(run: Run) -> str:
    out = []
    out.append(
        "messages met" if run.messages <= TARGET_MESSAGES else f"messages MISSED ({run.messages})"
    )
    out.append("0 429s met" if run.provoked_429s == 0 else f"429s MISSED ({run.provoked_429s})")
    worst = run.all_visible_s
    out.append(
        "all ≤ 10 s met" if run.visible == run.alerts and worst <= TARGET_ALL_S else "all MISSED"
    )
    first = run.first_s
    out.append(
        "first ≤ 1 s met" if first is not None and first <= TARGET_FIRST_S else "first MISSED"
    )
    if run.rss_mib is not None:
        mb = run.rss_mib * 1.048576
        out.append("RSS met" if mb < TARGET_RSS_MB else "RSS MISSED")
    return " · ".join(out)


def report(runs: list[Run], args: argparse.Namespace, elapsed: float) -> None:
    print_machine()
    print(
        f"{args.monitors} monitors × {args.per_monitor} alerts, one Alertmanager POST per "
        f"monitor spread over {args.window:g} s; double message limit 5 per 5 s; "
        f"{args.rounds} round(s), median (min–max); took {elapsed:.0f} s\n"
    )
    names = {"naive": "naive relay, one message per alert (baseline)", "opsroom": "opsroom"}
    rows = []
    by_name: dict[str, list[Run]] = {}
    for run in runs:
        by_name.setdefault(run.name, []).append(run)
    figures: dict[str, dict[str, float]] = {}
    for name in ("naive", "opsroom"):
        these = by_name.get(name, [])
        if not these:
            continue
        projected = any(r.projected for r in these)
        alls = [r.all_visible_s for r in these]
        firsts = [r.first_s for r in these if r.first_s is not None]
        p50s = [median(r.latencies()) for r in these if r.latencies()]
        figures[name] = {
            "messages": median([r.needed for r in these]),
            "429": median([r.provoked_429s for r in these]),
            "all": median(alls),
            "first": median(firsts) if firsts else float("nan"),
        }
        rss = [r.rss_mib for r in these if r.rss_mib is not None]
        rows.append(
            [
                names[name],
                " / ".join(f"{sum(s == 202 for s in r.statuses)}" for r in these),
                spread([r.messages for r in these])
                + (f" (≈ {spread([r.needed for r in these])} to show all)" if projected else ""),
                spread([r.posts for r in these]),
                spread([r.provoked_429s for r in these]),
                " / ".join(f"{r.visible}/{r.alerts}" for r in these),
                ("≈ " if projected else "") + spread(alls, "{:.1f}"),
                spread(p50s, "{:.2f}"),
                spread(firsts, "{:.2f}") if firsts else "never",
                spread(rss, "{:.1f}") if rss else "—",
                "—" if name == "naive" else " / ".join(verdicts(r) for r in these),
            ]
        )
    print(
        table(
            [
                "relay",
                "202s",
                "messages created",
                "message POSTs",
                "429s provoked",
                "visible",
                "all visible, s after receipt",
                "p50 latency s (of the visible)",
                "first alert s",
                "RSS MiB",
                "target (≤ 20 msgs, 0 429s, all ≤ 10 s, first ≤ 1 s, RSS < 150 MB)",
            ],
            rows,
        )
    )
    if "naive" in figures and "opsroom" in figures:
        n, o = figures["naive"], figures["opsroom"]
        print(
            "\nopsroom ÷ naive: messages to show every alert "
            f"{o['messages'] / n['messages']:.3f}×, "
            f"time until all visible {o['all'] / n['all']:.3f}×"
            + (" (naive projected)" if any(r.projected for r in by_name["naive"]) else "")
            + f", first alert {o['first'] / n['first']:.2f}×"
        )


async def amain(args: argparse.Namespace) -> None:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="opsroom-bench-storm-"))
    runs: list[Run] = []
    try:
        for round_no in range(args.rounds):
            for name in args.relays.split(","):
                run = await (
                    run_naive(args) if name == "naive" else run_opsroom(args, workdir, round_no)
                )
                runs.append(run)
                print(
                    f"round {round_no + 1} {run.name:7} 202s {sum(s == 202 for s in run.statuses)}"
                    f"  messages {run.messages}  posts {run.posts}  429s {run.provoked_429s}  "
                    f"visible {run.visible}/{run.alerts}  all {run.all_visible_s:.1f} s"
                    f"{' (projected)' if run.projected else ''}  first {run.first_s}"
                    f"  rss {run.rss_mib}",
                    file=sys.stderr,
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(runs, args, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--per-monitor", type=int, default=10, help="alerts in each monitor's POST")
    parser.add_argument("--window", type=float, default=20.0, help="seconds the POSTs spread over")
    parser.add_argument("--drain", type=float, default=30.0, help="opsroom: max s after the storm")
    parser.add_argument(
        "--naive-wait", type=float, default=20.0, help="naive: s after the storm before projecting"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--relays", default="naive,opsroom")
    args = parser.parse_args()
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()

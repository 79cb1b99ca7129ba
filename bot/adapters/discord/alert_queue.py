"""One guild's alert work: what changed and which pings are due, done in paced rounds.

Each round reads only the alerts whose events arrived since the last round (one batched
read; those still waiting for the budget are kept as read), then spends what the channels'
budgets allow: new alerts first, then pings, then edits (one per message, however many
changes it collected; messages whose alerts were resolved or acknowledged first, repeat
counts after). Whatever did not fit waits for the next round, and meanwhile keeps
collecting, so a storm turns into a few messages instead of a queue behind Discord's limits.

New alerts: while they fit the channel's budget, each gets its own card. A burst that does
not fit starts a storm: its first alerts (up to `FIRST_CARDS`) get cards while the budget
allows, the rest go into one digest, the storm summary. While the storm goes on (a new
alert within `STORM_QUIET_SECONDS`) new alerts fold into that summary, which is edited in
place, until it holds `SUMMARY_CAP` alerts; so the message count stops growing with the
storm's length. Escalations due together at the same level share one ping (alert_pings).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import alert_pings, alert_rendering
from bot.adapters.discord.alert_buttons import digest_view
from bot.adapters.discord.notifier import classify
from bot.adapters.discord.pacing import Budget
from bot.core.alerts import Alert
from bot.core.model import GuildConfig

if TYPE_CHECKING:
    from bot.adapters.discord.alert_relay import AlertRelay

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
FIRST_CARDS = 3  # cards a storm's first burst gets before the rest go into its summary
SUMMARY_CAP = 2000  # alerts one storm summary holds (each edit reads and lists them all)
STORM_QUIET_SECONDS = 60.0  # no new alert for this long: the storm is over
Events = dict[int, list[int]]  # alert id → its waiting event ids


@dataclass
class Summary:
    """The live storm summary of one guild: the digest new alerts fold into."""

    channel_id: int
    message_id: int
    size: int
    last_fold: float  # monotonic time of the last alert folded in

    def ongoing(self, channel_id: int, now: float) -> bool:
        """Whether its storm goes on: a new alert in this channel within the quiet time."""
        return channel_id == self.channel_id and now - self.last_fold < STORM_QUIET_SECONDS

    def live(self, channel_id: int, now: float) -> bool:
        """Whether new alerts in this channel still fold into it."""
        return self.ongoing(channel_id, now) and self.size < SUMMARY_CAP


class GuildQueue:
    """Waiting alert work of one guild, and the worker task that does it."""

    def __init__(self, relay: AlertRelay, guild_id: int) -> None:
        self.relay = relay
        self.guild_id = guild_id
        self.changed: dict[int, list[int]] = {}  # alert id → its waiting event ids
        self.pings: dict[int, list[int]] = {}  # alert id → its waiting escalation event ids
        self.alerts: dict[int, Alert] = {}  # waiting alerts as last read
        self.labels: dict[int, str] = {}  # incident id → label, of the alerts read
        self.stale: set[int] = set()  # alerts with events since they were last read
        self.pings_since: float | None = None  # when the oldest waiting ping was noted
        self.summary: Summary | None = None
        self.burst_cards = 0  # cards given to the burst now waiting for the budget
        self._task: asyncio.Task[None] | None = None
        self._bugs = 0  # unexpected failures in a row
        # Posted but not yet stored as shown (the database failed right after): stored first
        # in the next round, so a retry edits that message instead of posting the alerts again.
        self._unrecorded: list[tuple[list[int], int, int, list[int]]] = []
        self.marked: set[int] = set()  # events a record wrote done, not yet forgotten

    @property
    def depth(self) -> int:
        """Alerts waiting for a post, an edit or a ping."""
        return len(self.changed) + len(self.pings)

    def note_change(self, alert_id: int, event_id: int) -> None:
        """The alert changed: post or edit what shows it."""
        self.changed.setdefault(alert_id, []).append(event_id)
        self.stale.add(alert_id)
        self._kick()

    def note_ping(self, alert_id: int, event_id: int) -> None:
        """The alert escalated: ping the role its level names."""
        self.pings.setdefault(alert_id, []).append(event_id)
        self.stale.add(alert_id)
        if self.pings_since is None:
            self.pings_since = time.monotonic()
        self._kick()

    def _kick(self) -> None:
        """Start the worker unless it runs; it ends when nothing waits (no idle task)."""
        self.relay.report_depth()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"opsroom-alerts-{self.guild_id}")

    async def stop(self) -> None:
        """Cancel the worker; its events stay pending in the outbox."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        delay = self.relay.retry_base
        while self.changed or self.pings:
            try:
                wait = await self._round()
                delay = self.relay.retry_base
            except Exception as exc:
                if classify(exc) == "transient":
                    log.warning(
                        "alert relay (guild %s): %s; retry in %.1f s", self.guild_id, exc, delay
                    )
                else:
                    log.error(
                        "alert relay (guild %s) failed; retrying", self.guild_id, exc_info=True
                    )
                wait, delay = delay, min(delay * 2, self.relay.retry_max)
            self.relay.report_depth()
            if wait > 0:
                await asyncio.sleep(wait)
        self.relay.report_depth()

    async def _refresh(self) -> tuple[GuildConfig | None, set[int]]:
        """Read the configuration and what changed since the last round, in one batch;
        returns the configuration and the ids of the alerts that no longer exist."""
        waiting = (*self.changed, *self.pings)
        wanted = {a for a in waiting if a in self.stale or a not in self.alerts}
        self.stale -= wanted
        config, fresh, labels = await self.relay.read(self.guild_id, wanted)
        self.labels.update(labels)
        self.alerts.update(fresh)
        missing = wanted - set(fresh)
        for alert_id in missing:
            self.alerts.pop(alert_id, None)
        return config, missing

    async def _round(self) -> float:
        """Do what the budgets allow now; returns how long to wait before the next round."""
        while self._unrecorded:
            await self.relay.record(*self._unrecorded[0])
            self.marked.update(self._unrecorded.pop(0)[3])
        try:
            config, missing = await self._refresh()
        except BaseException:
            self.stale.update(self.changed)  # read them again next time
            self.stale.update(self.pings)
            raise
        gone = {a: list(e) for a, e in self.changed.items() if a in missing}
        if gone:
            await self.finish(self.changed, gone)  # deleted: nothing to show
        # Only what is read as it is now: alerts noted while reading wait for the next round.
        changed = {a: list(e) for a, e in self.changed.items() if self.current(a)}
        shown = {a for a in changed if a in self.alerts and self.alerts[a].relay_message_id}
        new = sorted(
            (self.alerts[a] for a in changed if a in self.alerts and a not in shown),
            key=lambda a: a.id or 0,
        )
        if new and config is not None and config.alerts_channel_id is not None:
            new, folded = await self._fold(config.alerts_channel_id, new)
            shown |= folded
        waits = []
        if new:
            waits.append(await self._post_new(config, new, changed))
        waits.append(await alert_pings.send_due(self, config))
        for (channel_id, message_id), keys in self._edits({a: changed[a] for a in shown}):
            waits.append(await self._edit(channel_id, message_id, keys))
        self._forget_finished()
        return min((w for w in waits if w > 0), default=0.0)

    def current(self, alert_id: int) -> bool:
        """Whether the alert is read, with no event since."""
        return alert_id in self.alerts and alert_id not in self.stale

    def _edits(self, changed: dict[int, list[int]]) -> list[tuple[tuple[int, int], Events]]:
        """The messages to bring up to date with their alerts' events: those whose alerts
        were resolved or acknowledged first (what people wait for), repeat counts after."""
        groups: dict[tuple[int, int], Events] = {}
        urgent: set[tuple[int, int]] = set()
        for alert_id, events in changed.items():
            alert = self.alerts.get(alert_id)
            if alert is None or alert.relay_message_id is None or alert.relay_channel_id is None:
                continue
            key = (alert.relay_channel_id, alert.relay_message_id)
            groups.setdefault(key, {})[alert_id] = events
            if not alert.is_open or alert.acknowledged_at is not None:
                urgent.add(key)

        def priority(key: tuple[int, int]) -> tuple[bool, int]:
            first = min((e for events in groups[key].values() for e in events), default=0)
            return key not in urgent, first

        return [(key, groups[key]) for key in sorted(groups, key=priority)]

    def _forget_finished(self) -> None:
        """Alerts with no waiting work are not kept (the next event reads them again)."""
        for alert_id in [a for a in self.alerts if a not in self.changed and a not in self.pings]:
            del self.alerts[alert_id]
        if not self.pings:
            self.pings_since = None

    async def finish(self, queue: dict[int, list[int]], done: dict[int, list[int]]) -> None:
        """Complete the events first (a failure leaves them waiting), then forget them."""
        events = [e for events in done.values() for e in events]
        await self.relay.complete(events, marked=self.marked)
        self.marked.difference_update(events)
        for alert_id, events in done.items():
            left = [e for e in queue.get(alert_id, []) if e not in events]
            if left:
                queue[alert_id] = left
            else:
                queue.pop(alert_id, None)

    async def _record(
        self, ids: list[int], channel_id: int, message_id: int, delivered: Events | None = None
    ) -> None:
        """Store which message shows these alerts (and that the post delivered these events),
        or keep that for the next round."""
        events = [e for es in (delivered or {}).values() for e in es]
        try:
            await self.relay.record(ids, channel_id, message_id, events)
        except Exception:
            self._unrecorded.append((ids, channel_id, message_id, events))
            raise
        finally:
            self._shown_at(ids, channel_id, message_id)
        self.marked.update(events)

    def _shown_at(self, ids: list[int], channel_id: int, message_id: int | None) -> None:
        """Keep the alerts as read in step with where they are shown."""
        for alert_id in ids:
            alert = self.alerts.get(alert_id)
            if alert is not None:
                alert.relay_channel_id, alert.relay_message_id = channel_id, message_id

    async def _posting(self, ids: list[int], channel_id: int) -> None:
        await self.relay.posting(ids, channel_id)
        self._shown_at(ids, channel_id, None)

    async def act(
        self,
        budget: Budget,
        queue: dict[int, list[int]],
        done: dict[int, list[int]],
        action: Callable[[], Awaitable[bool]],
        what: str,
        *,
        urgent: bool = True,
    ) -> None:
        """Run one Discord action and settle its events; transient failures retry later."""
        used = True
        await self.relay.turn(urgent=urgent)
        try:
            used = await action()
        except Exception as exc:
            verdict = classify(exc)
            if verdict == "bug":
                self._bugs += 1
            retry_bug = verdict == "bug" and self._bugs < self.relay.max_attempts
            if verdict == "transient" or retry_bug:
                raise
            if verdict == "gone":
                log.warning(
                    "%s skipped, its channel or message is gone or forbidden: %s", what, exc
                )
            else:
                log.error("%s skipped after it failed", what, exc_info=exc)
        finally:
            if used:
                budget.spend()
        self._bugs = 0
        await self.finish(queue, done)

    async def _fold(self, channel_id: int, new: list[Alert]) -> tuple[list[Alert], set[int]]:
        """New alerts join the live storm summary (shown by its next edit); returns the
        others and the ids of those that joined.

        Alerts marked as being posted whose message is unknown are never folded: the post
        whose answer was lost goes again exactly as it was (see `_post_new`).
        """
        now = time.monotonic()
        summary = self.summary
        if summary is None or not summary.live(channel_id, now):
            return new, set()
        sure = [a for a in new if a.relay_channel_id is None and a.id is not None]
        ids = [a.id for a in sure[: SUMMARY_CAP - summary.size] if a.id is not None]
        if not ids:
            return new, set()
        await self._record(ids, channel_id, summary.message_id)
        summary.size += len(ids)
        summary.last_fold = now
        joined = set(ids)
        return [a for a in new if a.id not in joined], joined

    async def _post_new(
        self, config: GuildConfig | None, new: list[Alert], changed: dict[int, list[int]]
    ) -> float:
        """Cards while they fit the budget; a storm's first cards, then its summary."""
        channel_id = config.alerts_channel_id if config else None
        if channel_id is None:
            log.warning(
                "guild %s has no alerts channel (run /opsroom setup): %d alerts stored, not shown",
                self.guild_id,
                len(new),
            )
            await self.finish(self.changed, {a.id: changed[a.id] for a in new if a.id})
            return 0.0
        budget = self.relay.posts[channel_id]
        available = budget.available()
        if available == 0:
            return budget.wait()
        # Alerts marked as being posted whose message was never recorded: the answer was lost
        # (a 5xx, a timeout, kill -9), so Discord may have made the message. That post goes
        # first, exactly as it was — a card stays a card, a digest keeps its list, so the
        # nonce is the same and Discord returns the first message. Composing anew (these
        # alerts in a bigger digest) would show them twice. The other alerts wait a round.
        unsure = [a for a in new if a.relay_channel_id is not None]
        if unsure:
            if len(unsure) == 1:
                await self._cards(budget, channel_id, unsure, changed, unsure=True)
            else:
                await self._digest(budget, channel_id, unsure, changed, unsure=True)
            return 0.0
        summary = self.summary
        storming = summary is not None and summary.ongoing(channel_id, time.monotonic())
        if len(new) <= available and (len(new) == 1 or not storming):
            self.burst_cards = 0
            await self._cards(budget, channel_id, new, changed)
            return 0.0
        # A storm whose summary is full goes on in a new summary, without cards of its own.
        left = 0 if storming else max(FIRST_CARDS - self.burst_cards, 0)
        if left and available == 1:  # a card now; the rest when the budget allows
            self.burst_cards += 1
            await self._cards(budget, channel_id, new[:1], changed)
            return budget.wait()
        cards = max(min(left, available - 1, len(new) - 2), 0)
        await self._cards(budget, channel_id, new[:cards], changed)
        self.burst_cards = 0
        await self._digest(budget, channel_id, new[cards:][:SUMMARY_CAP], changed)
        return 0.0

    async def _cards(
        self,
        budget: Budget,
        channel_id: int,
        alerts: list[Alert],
        changed: dict[int, list[int]],
        *,
        unsure: bool = False,
    ) -> None:
        """Post each alert's own card."""
        channel = self.relay.channel(self.guild_id, channel_id)
        for alert in alerts:
            alert_id = alert.id
            assert alert_id is not None

            async def post(alert: Alert = alert, alert_id: int = alert_id) -> bool:
                content, embed, view = self.relay.render_card(alert, self.labels)
                await self._posting([alert_id], channel_id)
                message = await channel.send(
                    content,
                    embed=embed,
                    view=view,
                    nonce=f"al{alert_id}",  # a retry after a crash returns this message
                    allowed_mentions=NONE,
                )
                await self._record(
                    [alert_id], channel_id, message.id, {alert_id: changed[alert_id]}
                )
                if not unsure:  # else Discord may have answered with the first message
                    shown = alert_rendering.fingerprint(content, embed, view, None)
                    self.relay.remember(message.id, shown)
                return True

            done = {alert_id: changed[alert_id]}
            await self.act(budget, self.changed, done, post, f"alert A{alert_id}")
            if unsure:
                self._check_again([alert_id])

    async def _digest(
        self,
        budget: Budget,
        channel_id: int,
        alerts: list[Alert],
        changed: dict[int, list[int]],
        *,
        unsure: bool = False,
    ) -> None:
        """Post one digest of these alerts; unless it is a resend, it is the storm summary."""
        ids = sorted(a.id for a in alerts if a.id is not None)  # sorted: the nonce is the set's
        channel = self.relay.channel(self.guild_id, channel_id)

        async def post_digest() -> bool:
            parts = alert_rendering.digest(sorted(alerts, key=lambda a: a.id or 0))
            nonce = "dg" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:20]
            files = [discord.File(io.BytesIO(parts.file[1]), parts.file[0])] if parts.file else []
            view = digest_view(parts.choices)
            await self._posting(ids, channel_id)
            message = await channel.send(
                parts.content,
                embed=parts.embed,
                view=view,
                files=files,
                nonce=nonce,
                allowed_mentions=NONE,
            )
            await self._record(ids, channel_id, message.id, done)
            file_id = hashlib.sha256(parts.file[1]).hexdigest() if parts.file else None
            if not unsure:  # else Discord may have answered with the first message
                shown = alert_rendering.fingerprint(parts.content, parts.embed, view, file_id)
                self.relay.remember(message.id, shown)
                self.summary = Summary(channel_id, message.id, len(ids), time.monotonic())
            self.relay.mark_digest(message.id)
            return True

        done = {alert_id: changed[alert_id] for alert_id in ids}
        await self.act(budget, self.changed, done, post_digest, f"digest of {len(ids)} alerts")
        if unsure:
            self._check_again(ids)

    def _check_again(self, alert_ids: list[int]) -> None:
        """After a post sent again, Discord may have answered with the message it made the
        first time, showing these alerts as they were then (before a resolve that came
        meanwhile, say): queue one edit of it, with no event, to show them as they are now."""
        for alert_id in alert_ids:
            self.changed.setdefault(alert_id, [])

    async def _edit(self, channel_id: int, message_id: int, done: dict[int, list[int]]) -> float:
        """Bring one message up to date: an alert's card, or the digest it is listed in."""
        budget = self.relay.edits[channel_id]
        if budget.available() == 0:
            return budget.wait()
        wait = self.relay.digest_wait(message_id)
        if wait > 0:  # its alerts keep collecting meanwhile
            return wait

        async def edit() -> bool:
            await self.relay.hold(message_id)
            alerts, labels = await self.relay.shown_by(self.guild_id, message_id)
            if not alerts:
                return False  # moved to another message meanwhile; that one is edited instead
            files: list[discord.File] = []
            file_id = None
            if len(alerts) == 1:  # digests always list several alerts, so this is a card
                content, embed, view = self.relay.render_card(alerts[0], labels)
            else:
                self.relay.mark_digest(message_id)
                parts = alert_rendering.digest(alerts)
                content, embed, view = parts.content, parts.embed, digest_view(parts.choices)
                if parts.file:
                    files = [discord.File(io.BytesIO(parts.file[1]), parts.file[0])]
                    file_id = hashlib.sha256(parts.file[1]).hexdigest()
            shown = alert_rendering.fingerprint(content, embed, view, file_id)
            if self.relay.shown.get(message_id) == shown:
                return False
            message = self.relay.channel(self.guild_id, channel_id).get_partial_message(message_id)
            await message.edit(
                content=content, embed=embed, view=view, attachments=files, allowed_mentions=NONE
            )
            self.relay.remember(message_id, shown)
            return True

        what = f"edit of message {message_id}"
        await self.act(budget, self.changed, done, edit, what, urgent=False)
        return 0.0

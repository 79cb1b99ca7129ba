"""One guild's alert work: what changed and which pings are due, done in paced rounds.

Each round reads the waiting alerts as stored, then spends what the channels' budgets
allow: new alerts first (each its own card while they fit the budget; otherwise ONE digest
listing all of them), then pings, then edits (one per message, however many changes it
collected). Whatever did not fit waits for the next round, and meanwhile keeps collecting,
so a storm turns into a few messages instead of a queue behind Discord's limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import alert_rendering
from bot.adapters.discord.alert_buttons import digest_view
from bot.adapters.discord.notifier import classify
from bot.adapters.discord.pacing import Budget
from bot.core.alerts import Alert, EscalationTarget, escalation_target
from bot.core.model import GuildConfig

if TYPE_CHECKING:
    from bot.adapters.discord.alert_relay import AlertRelay

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()


class GuildQueue:
    """Waiting alert work of one guild, and the worker task that does it."""

    def __init__(self, relay: AlertRelay, guild_id: int) -> None:
        self.relay = relay
        self.guild_id = guild_id
        self.changed: dict[int, list[int]] = {}  # alert id → its waiting event ids
        self.pings: dict[int, list[int]] = {}  # alert id → its waiting escalation event ids
        self._task: asyncio.Task[None] | None = None
        self._bugs = 0  # unexpected failures in a row
        # Posted but not yet stored as shown (the database failed right after): stored first
        # in the next round, so a retry edits that message instead of posting the alerts again.
        self._unrecorded: list[tuple[list[int], int, int]] = []

    @property
    def depth(self) -> int:
        """Alerts waiting for a post, an edit or a ping."""
        return len(self.changed) + len(self.pings)

    def note_change(self, alert_id: int, event_id: int) -> None:
        """The alert changed: post or edit what shows it."""
        self.changed.setdefault(alert_id, []).append(event_id)
        self._kick()

    def note_ping(self, alert_id: int, event_id: int) -> None:
        """The alert escalated: ping the role its level names."""
        self.pings.setdefault(alert_id, []).append(event_id)
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

    async def _round(self) -> float:
        """Do what the budgets allow now; returns how long to wait before the next round."""
        while self._unrecorded:
            await self.relay.record(*self._unrecorded[0])
            self._unrecorded.pop(0)
        changed = {alert_id: list(events) for alert_id, events in self.changed.items()}
        pings = {alert_id: list(events) for alert_id, events in self.pings.items()}
        config, alerts, labels = await self.relay.read(self.guild_id, [*changed, *pings])
        new: list[Alert] = []
        edits: defaultdict[tuple[int, int], list[Alert]] = defaultdict(list)
        for alert_id, events in changed.items():
            alert = alerts.get(alert_id)
            if alert is None:
                await self._finish(self.changed, {alert_id: events})  # deleted: nothing to show
            elif alert.relay_message_id is None or alert.relay_channel_id is None:
                new.append(alert)
            else:
                edits[(alert.relay_channel_id, alert.relay_message_id)].append(alert)
        waits = []
        if new:
            waits.append(await self._post_new(config, new, changed, labels))
        for alert_id, events in pings.items():
            waits.append(await self._ping(config, alert_id, alerts.get(alert_id), events))
        for (channel_id, message_id), group in edits.items():
            keys = {a.id: changed[a.id] for a in group if a.id is not None}
            waits.append(await self._edit(channel_id, message_id, keys))
        return min((w for w in waits if w > 0), default=0.0)

    async def _finish(self, queue: dict[int, list[int]], done: dict[int, list[int]]) -> None:
        """Complete the events first (a failure leaves them waiting), then forget them."""
        await self.relay.complete(e for events in done.values() for e in events)
        for alert_id, events in done.items():
            left = [e for e in queue.get(alert_id, []) if e not in events]
            if left:
                queue[alert_id] = left
            else:
                queue.pop(alert_id, None)

    async def _record(self, ids: list[int], channel_id: int, message_id: int) -> None:
        """Store which message shows these alerts, or keep that for the next round."""
        try:
            await self.relay.record(ids, channel_id, message_id)
        except Exception:
            self._unrecorded.append((ids, channel_id, message_id))
            raise

    async def _act(
        self,
        budget: Budget,
        queue: dict[int, list[int]],
        done: dict[int, list[int]],
        action: Callable[[], Awaitable[bool]],
        what: str,
    ) -> None:
        """Run one Discord action and settle its events; transient failures retry later."""
        used = True
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
        await self._finish(queue, done)

    async def _post_new(
        self,
        config: GuildConfig | None,
        new: list[Alert],
        changed: dict[int, list[int]],
        labels: dict[int, str],
    ) -> float:
        """Each new alert its own card while they fit the budget, else one digest of all."""
        channel_id = config.alerts_channel_id if config else None
        if channel_id is None:
            log.warning(
                "guild %s has no alerts channel (run /opsroom setup): %d alerts stored, not shown",
                self.guild_id,
                len(new),
            )
            await self._finish(self.changed, {a.id: changed[a.id] for a in new if a.id})
            return 0.0
        budget = self.relay.posts[channel_id]
        available = budget.available()
        if available == 0:
            return budget.wait()
        channel = self.relay.channel(self.guild_id, channel_id)
        # Alerts marked as being posted whose message was never recorded: the answer was lost
        # (a 5xx, a timeout, kill -9), so Discord may have made the message. That post goes
        # first, exactly as it was — a card stays a card, a digest keeps its list, so the
        # nonce is the same and Discord returns the first message. Composing anew (these
        # alerts in a bigger digest) would show them twice. The other alerts wait a round.
        unsure = [a for a in new if a.relay_channel_id is not None]
        if unsure:
            new = unsure
            available = 1 if len(unsure) == 1 else 0
        posted: list[int] = []
        if len(new) <= available:
            for alert in new:
                assert alert.id is not None

                async def post(alert: Alert = alert) -> bool:
                    content, embed, view = self.relay.render_card(alert, labels)
                    await self.relay.posting([alert.id], channel_id)
                    message = await channel.send(
                        content,
                        embed=embed,
                        view=view,
                        nonce=f"al{alert.id}",  # a retry after a crash returns this message
                        allowed_mentions=NONE,
                    )
                    await self._record([alert.id], channel_id, message.id)
                    if not unsure:  # else Discord may have answered with the first message
                        shown = alert_rendering.fingerprint(content, embed, view, None)
                        self.relay.remember(message.id, shown)
                    posted.append(alert.id)
                    return True

                done = {alert.id: changed[alert.id]}
                await self._act(budget, self.changed, done, post, f"alert A{alert.id}")
            self._check_again(posted if unsure else [])
            return 0.0
        ids = sorted(a.id for a in new if a.id is not None)  # sorted: the nonce is the set's

        async def post_digest() -> bool:
            parts = alert_rendering.digest(sorted(new, key=lambda a: a.id or 0))
            nonce = "dg" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:20]
            files = [discord.File(io.BytesIO(parts.file[1]), parts.file[0])] if parts.file else []
            view = digest_view(parts.choices)
            await self.relay.posting(ids, channel_id)
            message = await channel.send(
                parts.content,
                embed=parts.embed,
                view=view,
                files=files,
                nonce=nonce,
                allowed_mentions=NONE,
            )
            await self._record(ids, channel_id, message.id)
            file_id = hashlib.sha256(parts.file[1]).hexdigest() if parts.file else None
            if not unsure:  # else Discord may have answered with the first message
                shown = alert_rendering.fingerprint(parts.content, parts.embed, view, file_id)
                self.relay.remember(message.id, shown)
            posted.extend(ids)
            return True

        done = {alert_id: changed[alert_id] for alert_id in ids}
        await self._act(budget, self.changed, done, post_digest, f"digest of {len(ids)} alerts")
        self._check_again(posted if unsure else [])
        return 0.0

    def _check_again(self, alert_ids: list[int]) -> None:
        """After a post sent again, Discord may have answered with the message it made the
        first time, showing these alerts as they were then (before a resolve that came
        meanwhile, say): queue one edit of it, with no event, to show them as they are now."""
        for alert_id in alert_ids:
            self.changed.setdefault(alert_id, [])

    async def _ping(
        self, config: GuildConfig | None, alert_id: int, alert: Alert | None, events: list[int]
    ) -> float:
        """One ping per alert however many escalations queued up; none once it was taken."""
        done = {alert_id: events}
        if alert is None or config is None or not alert.is_open or alert.acknowledged_at:
            await self._finish(self.pings, done)  # stale: acknowledged or resolved meanwhile
            return 0.0
        channel_id = config.alerts_channel_id or alert.relay_channel_id
        if channel_id is None:
            log.warning(
                "guild %s has no alerts channel: ping of A%s not sent", self.guild_id, alert_id
            )
            await self._finish(self.pings, done)
            return 0.0
        budget = self.relay.posts[channel_id]
        if budget.available() == 0:
            return budget.wait()
        target = escalation_target(alert, config)
        is_oncall = target is EscalationTarget.ONCALL
        role_id = config.oncall_role_id if is_oncall else config.escalation_role_id
        link = None
        if alert.relay_channel_id and alert.relay_message_id:
            link = alert_rendering.jump_url(
                self.guild_id, alert.relay_channel_id, alert.relay_message_id
            )
        now = self.relay.clock.now()
        text = alert_rendering.ping_text(
            alert, target, role_id, repeats=config.escalation_repeats, now=now, link=link
        )
        # The one deliberate ping: exactly this role; names in the alert's text stay silent.
        mentions = (
            discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(role_id)], replied_user=False
            )
            if role_id
            else NONE
        )

        async def ping() -> bool:
            channel = self.relay.channel(self.guild_id, channel_id)
            # The oldest event names the nonce: it stays the same when more escalations of
            # this alert queue up behind a post whose answer was lost.
            await channel.send(text, nonce=f"es{events[0]}", allowed_mentions=mentions)
            if self.relay.metrics is not None:
                self.relay.metrics.escalation(target.value)
            return True

        await self._act(budget, self.pings, done, ping, f"escalation ping of A{alert_id}")
        return 0.0

    async def _edit(self, channel_id: int, message_id: int, done: dict[int, list[int]]) -> float:
        """Bring one message up to date: an alert's card, or the digest it is listed in."""
        budget = self.relay.edits[channel_id]
        if budget.available() == 0:
            return budget.wait()

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

        await self._act(budget, self.changed, done, edit, f"edit of message {message_id}")
        return 0.0

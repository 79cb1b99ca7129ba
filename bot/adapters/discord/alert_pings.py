"""Escalation pings in `#alerts`: alerts of a guild due at the same level share one ping.

A storm of 300 unacknowledged alerts pings the on-call role once per level, naming how many
and the first few, not 300 times. Each alert's own escalation (its level, its next time)
stays per alert in the core; only the message is shared. The one deliberate ping: exactly
the role the level names is allowed to be mentioned, nothing in the alerts' text.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord import alert_rendering
from bot.core.alerts import Alert, EscalationTarget, escalation_target
from bot.core.model import GuildConfig

if TYPE_CHECKING:
    from bot.adapters.discord.alert_queue import GuildQueue

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
# Escalations written together reach the relay a page of the outbox at a time: while the
# reader is behind, pings wait this long at most, so that they share one message.
GATHER_SECONDS = 2.0
GATHER_STEP = 0.05

Group = list[tuple[Alert, list[int]]]  # (alert, its waiting escalation event ids)


async def send_due(queue: GuildQueue, config: GuildConfig | None) -> float:
    """Send the guild's waiting pings, one per channel, target and level; returns how long
    to wait before trying again (0: nothing waits on the budget)."""
    if not queue.pings:
        return 0.0
    since = queue.pings_since
    gathering = since is not None and time.monotonic() - since < GATHER_SECONDS
    if gathering and queue.relay.reader_behind():
        return GATHER_STEP
    groups: dict[tuple[int, EscalationTarget, int], Group] = {}
    for alert_id, events in list(queue.pings.items()):
        if alert_id in queue.stale:
            continue  # noted while reading: the next round reads it
        alert = queue.alerts.get(alert_id)
        done = {alert_id: events}
        if alert is None or config is None or not alert.is_open or alert.acknowledged_at:
            await queue.finish(queue.pings, done)  # stale: acknowledged or resolved meanwhile
            continue
        channel_id = config.alerts_channel_id or alert.relay_channel_id
        if channel_id is None:
            log.warning(
                "guild %s has no alerts channel: ping of A%s not sent", queue.guild_id, alert_id
            )
            await queue.finish(queue.pings, done)
            continue
        target = escalation_target(alert, config)
        level = alert.escalation_level if target is EscalationTarget.ONCALL else 0
        groups.setdefault((channel_id, target, level), []).append((alert, events))
    waits = [
        await _ping(queue, config, channel_id, target, group)
        for (channel_id, target, _), group in groups.items()
        if config is not None
    ]
    return min((w for w in waits if w > 0), default=0.0)


async def _ping(
    queue: GuildQueue,
    config: GuildConfig,
    channel_id: int,
    target: EscalationTarget,
    group: Group,
) -> float:
    """One ping for the group, however many escalations of each alert queued up."""
    relay = queue.relay
    budget = relay.posts[channel_id]
    if budget.available() == 0:
        return budget.wait()
    is_oncall = target is EscalationTarget.ONCALL
    role_id = config.oncall_role_id if is_oncall else config.escalation_role_id
    now = relay.clock.now()
    alerts = sorted((alert for alert, _ in group), key=lambda a: a.id or 0)
    if len(alerts) == 1:
        (alert,) = alerts
        link = None
        if alert.relay_channel_id and alert.relay_message_id:
            link = alert_rendering.jump_url(
                queue.guild_id, alert.relay_channel_id, alert.relay_message_id
            )
        text = alert_rendering.ping_text(
            alert, target, role_id, repeats=config.escalation_repeats, now=now, link=link
        )
    else:
        text = alert_rendering.group_ping_text(
            alerts,
            target,
            role_id,
            repeats=config.escalation_repeats,
            now=now,
            channel_id=channel_id,
        )
    mentions = (
        discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(role_id)], replied_user=False
        )
        if role_id
        else NONE
    )
    # The oldest event names the nonce: it stays the same when more escalations queue up
    # behind a post whose answer was lost.
    first_event = min(events[0] for _, events in group)
    done = {alert.id: events for alert, events in group if alert.id is not None}

    async def ping() -> bool:
        channel = relay.channel(queue.guild_id, channel_id)
        await channel.send(text, nonce=f"es{first_event}", allowed_mentions=mentions)
        if relay.metrics is not None:
            relay.metrics.escalation(target.value)
        return True

    what = f"escalation ping of {len(done)} alert(s)"
    await queue.act(budget, queue.pings, done, ping, what)
    return 0.0

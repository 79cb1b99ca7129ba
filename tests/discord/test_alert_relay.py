"""The `#alerts` relay: cards edited in place, episodes, digests, durability."""

from __future__ import annotations

import logging

import discord
from simcord import ChannelHandle

from bot.core.alerts import AlertSignal, AlertSource, SignalAction
from bot.core.errors import StorageUnavailableError
from bot.core.events import Event, Topic
from bot.core.services import Ingested, ingest_signals
from tests.discord.conftest import World

T0 = 1772366400  # 2026-03-01 12:00 UTC, the core's clock


def signal(
    stream: str = "disk-db1",
    action: SignalAction = SignalAction.TRIGGER,
    *,
    title: str = "Disk 97% full on db1",
    monitor: str = "db1",
    **extra,
) -> AlertSignal:
    """An Events v2 style notification (the open episode of a stream)."""
    extra.setdefault("severity", "critical")
    extra.setdefault("link", "https://monitor.example.org/db1")
    extra.setdefault("details", {"mount": "/var", "used": "97%"})
    return AlertSignal(AlertSource.EVENTS, action, stream, monitor, title, **extra)


async def ingest(world: World, *signals: AlertSignal, settle: bool = True) -> list[Ingested]:
    """Store notifications the way the webhook writer does (one commit), then let the relay run."""
    bot = world.env.bot
    hooks = await bot.services.webhooks.list(world.guild.id)
    if hooks:
        hook = hooks[0]
    else:
        hook, _ = await bot.services.webhooks.create(
            world.guild.id, AlertSource.EVENTS, "test", None
        )
    async with bot.uow_factory() as uow:
        results = await ingest_signals(uow, hook, list(signals), bot.notifier._clock.now())
        await uow.commit()
    if settle:
        await world.env.settle()
    return results


def alerts_channel(world: World) -> ChannelHandle:
    return world.channel("alerts")


def posts(world: World) -> list[discord.Message]:
    """What the bot posted in #alerts, oldest first."""
    return [m for m in alerts_channel(world).history() if m.author.bot]


def fields(message: discord.Message) -> dict[str, str]:
    return {f.name: f.value for f in message.embeds[0].fields}


def labels(message: discord.Message) -> list[str]:
    """The labels of the message's buttons, in order."""
    return [c.label for row in message.components for c in row.children]


def creates(world: World, channel: ChannelHandle) -> list:
    """Message-creation requests the bot made in a channel."""
    path = f"/channels/{channel.id}/messages"
    return [r for r in world.env.http_requests if r.method == "POST" and r.path == path]


def edits(world: World, message: discord.Message) -> list:
    path = f"/channels/{message.channel.id}/messages/{message.id}"
    return [r for r in world.env.http_requests if r.method == "PATCH" and r.path == path]


async def pending(world: World) -> list:
    async with world.env.bot.uow_factory() as uow:
        return await uow.outbox.pending()


async def test_a_new_alert_posts_one_card_with_three_buttons(ready: World):
    """Source, monitor, state, severity, details, since, link; red; Acknowledge/Declare/Attach."""
    (result,) = await ingest(ready, signal())
    (card,) = posts(ready)
    embed = card.embeds[0]
    assert card.content == "🔴 **firing** · Disk 97% full on db1"  # the title names db1
    assert embed.title == "Disk 97% full on db1" and embed.url == "https://monitor.example.org/db1"
    assert embed.colour.value == 0xE02B2B
    assert "**mount**: /var" in embed.description
    assert fields(card) == {
        "State": "🔴 Firing",
        "Monitor": "db1",
        "Source": "events",
        "Severity": "critical",
        "Since": f"<t:{T0}:f> (<t:{T0}:R>)",
    }
    assert embed.footer.text == f"Alert A{result.alert.id}"
    assert labels(card) == ["Acknowledge", "Declare incident", "Attach to incident"]
    ids = [c.custom_id for row in card.components for c in row.children]
    assert ids == [
        f"opsroom:alert:{kind}:{result.alert.id}" for kind in ("ack", "declare", "attach")
    ]
    stored = await ready.env.bot.services.alerts.get(ready.guild.id, result.alert.id)
    assert (stored.relay_channel_id, stored.relay_message_id) == (card.channel.id, card.id)
    assert await pending(ready) == []


async def test_the_card_post_carries_a_nonce_from_the_alert(ready: World):
    """A retry after a crash cannot post it twice: nonce `al<id>` with enforce_nonce."""
    (result,) = await ingest(ready, signal())
    (post,) = creates(ready, alerts_channel(ready))
    assert post.json["nonce"] == f"al{result.alert.id}" and post.json["enforce_nonce"] is True


async def test_a_repeat_edits_the_count_and_posts_nothing_new(ready: World, clock):
    """The same alert again: the card says how often it was seen; still one message."""
    await ingest(ready, signal())
    clock.advance(minutes=2)
    await ingest(ready, signal())
    await ingest(ready, signal())
    (card,) = posts(ready)
    assert fields(card)["Seen"] == f"3 times, last <t:{T0 + 120}:R>"
    assert len(creates(ready, alerts_channel(ready))) == 1


async def test_resolution_turns_the_card_green_with_the_duration(ready: World, clock):
    """Resolve: green, "Resolved after 12m", Acknowledge disabled, the rest still usable."""
    await ingest(ready, signal())
    clock.advance(minutes=12)
    await ingest(ready, signal(action=SignalAction.RESOLVE))
    (card,) = posts(ready)
    assert card.embeds[0].colour.value == 0x2ECC71
    assert fields(card)["State"] == "✅ Resolved after 12m"
    assert card.content.startswith("✅ **resolved**")
    buttons = {c.label: c.disabled for row in card.components for c in row.children}
    assert buttons == {"Acknowledge": True, "Declare incident": False, "Attach to incident": False}


async def test_a_new_episode_gets_a_new_message(ready: World, clock):
    """A trigger after resolve is a new alert: a second card; the first stays resolved."""
    await ingest(ready, signal())
    await ingest(ready, signal(action=SignalAction.RESOLVE))
    clock.advance(hours=1)
    await ingest(ready, signal())
    first, second = posts(ready)
    assert fields(first)["State"].startswith("✅ Resolved")
    assert fields(second)["State"] == "🔴 Firing"
    assert first.embeds[0].footer.text != second.embeds[0].footer.text


async def test_relayed_text_pings_nobody(ready: World):
    """@everyone and a role mention in an alert go out with allowed mentions none."""
    role = f"<@&{ready.responders.id}>"
    await ingest(ready, signal(title=f"@everyone {role} disk", monitor="@here db1"))
    (card,) = posts(ready)
    assert "@everyone" in card.content and role in card.content
    (post,) = creates(ready, alerts_channel(ready))
    assert post.json["allowed_mentions"] == {"parse": []}
    stored = ready.env.backend.get_message(card.channel.id, card.id)
    assert stored.ping_role_ids == [] and stored.ping_user_ids == []
    assert not stored.mention_everyone


async def test_edits_carry_allowed_mentions_none(ready: World):
    """An edit of relayed text cannot ping either."""
    await ingest(ready, signal(title="@everyone down"))
    await ingest(ready, signal(title="@everyone still down"))
    (card,) = posts(ready)
    (edit,) = edits(ready, card)
    assert edit.json["allowed_mentions"] == {"parse": []}


async def test_a_few_new_alerts_each_get_their_card(ready: World):
    """Up to the channel's budget (5 per 5 s), every new alert has its own card at once."""
    await ingest(ready, *(signal(f"s{n}", title=f"alert {n}") for n in range(5)))
    assert [m.embeds[0].title for m in posts(ready)] == [f"alert {n}" for n in range(5)]


async def test_more_new_alerts_than_the_budget_become_one_digest(ready: World):
    """Three cards, then twelve more at once with two posts left: the burst's first alert
    still gets its card, one digest lists the other eleven; nothing dropped."""
    await ingest(ready, *(signal(f"a{n}", title=f"first {n}") for n in range(3)))
    await ingest(ready, *(signal(f"b{n}", title=f"storm {n}") for n in range(12)))
    messages = posts(ready)
    assert len(messages) == 5
    assert messages[3].embeds[0].title == "storm 0"
    digest = messages[-1]
    assert digest.embeds[0].title == "Alert digest: 11 alerts"
    assert all(f"storm {n}" in digest.embeds[0].description for n in range(1, 12))
    assert "11 alerts" in digest.content and "None was dropped" in digest.content
    (menu,) = [c for row in digest.components for c in row.children]
    assert menu.custom_id == "opsroom:alerts:pick" and len(menu.options) == 11
    assert await pending(ready) == []


async def test_new_alerts_wait_for_the_budget_then_show(ready: World):
    """Budget spent: the next alert waits (no 6th post in 5 s), then appears as its card."""
    await ingest(ready, *(signal(f"a{n}") for n in range(5)))
    await ingest(ready, signal("late", title="late one"))
    assert len(posts(ready)) == 5
    await ready.env.advance_time(6)
    assert posts(ready)[-1].embeds[0].title == "late one"
    assert await pending(ready) == []


async def test_many_changes_of_one_alert_become_one_edit(ready: World):
    """Edits are paced too: with the edit budget spent, ten repeats make a single edit."""
    await ingest(ready, *(signal(f"a{n}") for n in range(5)))
    await ingest(ready, *(signal(f"a{n}") for n in range(5)))  # five edits spend the budget
    for _ in range(10):
        await ingest(ready, signal("a0"), settle=False)
    await ready.env.settle()
    card = posts(ready)[0]
    assert len(edits(ready, card)) == 1
    await ready.env.advance_time(6)
    assert len(edits(ready, card)) == 2
    assert fields(posts(ready)[0])["Seen"].startswith("12 times")


async def test_a_digested_alert_changes_in_its_digest(ready: World):
    """A repeat or resolve of an alert listed in a digest edits that digest's line."""
    await ingest(ready, *(signal(f"a{n}", title=f"alert {n}") for n in range(7)))
    assert len(posts(ready)) == 4  # the burst's first three cards, then the digest
    await ingest(ready, signal("a3", SignalAction.RESOLVE, title="alert 3"))
    digest = posts(ready)[-1]
    line = next(x for x in digest.embeds[0].description.splitlines() if "alert 3" in x)
    assert line.startswith("✅ resolved")
    assert len(creates(ready, alerts_channel(ready))) == 4


async def test_pending_alerts_are_posted_once_after_a_restart(ready: World, make_bot, caplog):
    """Discord down for the first bot: a new bot over the same database posts each alert once."""
    channel = alerts_channel(ready)
    ready.env.inject_error("POST", f"/channels/{channel.id}/messages", status=503, times=None)
    ready.env.bot.alert_relay.retry_base = 30.0  # parked: the restart comes first
    with caplog.at_level(logging.WARNING):
        await ingest(ready, signal("x"), signal("y"))
    assert posts(ready) == [] and len(await pending(ready)) == 2
    ready.env.backend.faults.clear()
    await ready.env.restart_bot(make_bot())
    await ready.env.settle()
    assert sorted(m.embeds[0].title for m in posts(ready)) == ["Disk 97% full on db1"] * 2
    assert len(posts(ready)) == 2
    assert await pending(ready) == []


async def test_a_post_whose_answer_was_lost_is_sent_again_as_it_was(
    ready: World, make_bot, monkeypatch
):
    """A card made but never answered is sent again first (same nonce), never put in a digest."""
    relay = ready.env.bot.alert_relay
    relay.retry_base = 30.0  # parked: the restart comes first
    channel_of = relay.channel

    class AnswerLost:
        """Discord stores the post; the bot never hears back."""

        def __init__(self, channel):
            self.channel = channel

        async def send(self, *args, **kwargs):
            await self.channel.send(*args, **kwargs)
            raise TimeoutError("the answer was lost")

    monkeypatch.setattr(
        relay, "channel", lambda guild, channel: AnswerLost(channel_of(guild, channel))
    )
    (first,) = await ingest(ready, signal("s0"))
    assert len(posts(ready)) == 1
    await ingest(ready, *(signal(f"s{n}") for n in range(1, 8)))
    await ready.env.restart_bot(make_bot())
    await ready.env.settle()
    nonces = [r.json["nonce"] for r in creates(ready, alerts_channel(ready))]
    assert nonces[:2] == [f"al{first.alert.id}"] * 2 and len(nonces) == 6, nonces
    # Then the seven others as a new burst: its first three cards, one digest of four.
    assert [n[:2] for n in nonces[2:]] == ["al", "al", "al", "dg"]
    assert f"al{first.alert.id}" not in nonces[2:]
    digest = posts(ready)[-1]
    assert f"`A{first.alert.id}`" not in digest.embeds[0].description
    assert digest.embeds[0].description.count("`A") == 4
    stored = await ready.env.bot.services.alerts.get(ready.guild.id, first.alert.id)
    assert stored.relay_message_id == posts(ready)[1].id  # Discord would answer the first
    assert await pending(ready) == []


async def test_alerts_before_setup_are_stored_but_not_stuck(world: World, caplog):
    """No #alerts yet: the alert is kept in the database and the outbox does not clog."""
    with caplog.at_level(logging.WARNING):
        await ingest(world, signal())
    assert await pending(world) == []
    assert any("has no alerts channel" in r.getMessage() for r in caplog.records)


async def test_an_alert_deleted_meanwhile_is_skipped(ready: World):
    """An event for an alert that no longer exists is completed, not retried forever."""
    async with ready.env.bot.uow_factory() as uow:
        await uow.outbox.add(Event(Topic.ALERT_CHANGED, ready.guild.id, 4242))
        await uow.commit()
    await ready.env.settle()
    assert await pending(ready) == [] and posts(ready) == []


async def test_a_database_failure_after_posting_does_not_post_again(ready: World, monkeypatch):
    """The digest went out but storing its message id failed once: stored on retry, one post."""
    ready.env.bot.alert_relay.retry_base = 0.01
    alerts = ready.env.bot.services.alerts
    record, calls = alerts.record_relay, []

    async def flaky(*args):
        if args[2] is not None and len(args[0]) > 1:  # the digest's message id, once posted
            calls.append(args)
            if len(calls) == 1:
                raise StorageUnavailableError("database is locked")
        await record(*args)

    monkeypatch.setattr(alerts, "record_relay", flaky)
    results = await ingest(ready, *(signal(f"s{n}") for n in range(7)))
    digest = posts(ready)[-1]
    assert len(posts(ready)) == 4  # three cards, then the digest of the other four
    digest_calls = [c for c in calls if len(c[0]) > 1]
    assert len(digest_calls) == 2 and digest_calls[0] == digest_calls[1]
    for result in results[3:]:
        stored = await alerts.get(ready.guild.id, result.alert.id)
        assert stored.relay_message_id == digest.id
    assert await pending(ready) == []

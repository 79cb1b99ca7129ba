"""The `#alerts` controls: Acknowledge, Declare incident (form), Attach to incident (menu), the
digest's menu — for responders, refused to watchers, and still working after a restart."""

from __future__ import annotations

from bot.adapters.discord.alert_queue import STORM_QUIET_SECONDS
from bot.core.alerts import SignalAction
from bot.core.model import Status
from bot.core.services import IncidentRef
from tests.discord.conftest import World, declare
from tests.discord.test_alert_relay import alerts_channel, edits, fields, ingest, posts, signal
from tests.discord.test_incidents import thread_lines, thread_of


async def stored(world: World, alert_id: int):
    return await world.env.bot.services.alerts.get(world.guild.id, alert_id)


async def test_acknowledge_edits_the_card_in_place(ready: World):
    """A responder takes the alert: orange, who took it, Acknowledge greyed out; no extra post."""
    (result,) = await ingest(ready, signal())
    (card,) = posts(ready)
    click = await ready.alice.click(card, label="Acknowledge")
    assert click.acknowledged and not click.ephemeral
    await ready.env.settle()
    (card,) = posts(ready)
    assert fields(card)["State"].startswith(f"👀 Acknowledged by <@{ready.alice.id}>")
    assert card.embeds[0].colour.value == 0xF57C00
    buttons = {c.label: c.disabled for row in card.components for c in row.children}
    assert buttons["Acknowledge"] is True
    alert = await stored(ready, result.alert.id)
    assert alert.acknowledged_by.id == ready.alice.id and alert.next_escalation_at is None
    assert edits(ready, card) == []  # the click's answer edited it; the relay had nothing to do


async def test_acknowledge_refuses_a_watcher_in_one_ephemeral_line(ready: World):
    """bob has no responder role: told why, privately; the alert stays unacknowledged."""
    (result,) = await ingest(ready, signal())
    (card,) = posts(ready)
    click = await ready.bob.click(card, label="Acknowledge")
    assert click.ephemeral
    assert click.response.content.startswith("Only members with the")
    assert "\n" not in click.response.content
    assert (await stored(ready, result.alert.id)).acknowledged_at is None


async def test_acknowledging_twice_says_who_took_it(ready: World):
    """The second click (an old card in another client) gets the core's one-line refusal."""
    await ingest(ready, signal())
    (card,) = posts(ready)
    await ready.alice.click(card, label="Acknowledge")
    admin_view = ready.env.backend.get_message(card.channel.id, card.id)
    admin_view.components[0]["components"][0]["disabled"] = False  # a stale client
    again = await ready.carol.click(card, label="Acknowledge")
    assert again.ephemeral and again.response.content == (
        "That alert was already acknowledged by alice."
    )


async def test_declare_opens_a_prefilled_form_and_declares_from_the_alert(ready: World):
    """Title and severity prefilled; submitting declares #1 with the alert on its timeline."""
    (result,) = await ingest(ready, signal())
    (card,) = posts(ready)
    shown = await ready.alice.click(card, label="Declare incident")
    form = shown.modal
    assert form is not None
    assert form["custom_id"].startswith(f"opsroom:alert:declare-form:{result.alert.id}:")
    title_input = form["components"][0]["component"]
    severity_menu = form["components"][1]["component"]
    assert title_input["value"] == "Disk 97% full on db1"
    assert [o["value"] for o in severity_menu["options"] if o.get("default")] == ["sev1"]
    done = await ready.alice.submit_modal(
        shown, {"title": "Database disk full", "severity": ["sev2"]}
    )
    assert not done.ephemeral
    text = done.followups[-1].content if done.followups else done.response.content
    assert text.startswith("🚨 **#1 Database disk full** declared from alert")
    incident = await ready.env.bot.services.incidents.get(ready.guild.id, IncidentRef(number=1))
    assert incident.severity.value == "sev2" and incident.channel_id is not None
    assert (await stored(ready, result.alert.id)).incident_id == incident.id
    await ready.env.settle()
    assert fields(posts(ready)[0])["Incident"] == "#1 Database disk full"
    assert any(
        "Alert firing: Disk 97% full on db1" in line for line in thread_lines(thread_of(ready))
    )


async def test_two_responders_declaring_from_one_alert_are_both_answered(ready: World):
    """alice and carol open the form on the same card before either submits: each form has
    its own custom_id, and each submit gets an answer (one declares, the other is told the
    alert is already on that incident or declares a second, never silence)."""
    (result,) = await ingest(ready, signal())
    (card,) = posts(ready)
    first = await ready.alice.click(card, label="Declare incident")
    second = await ready.carol.click(card, label="Declare incident")
    assert first.modal["custom_id"] != second.modal["custom_id"]
    done_second = await ready.carol.submit_modal(second, {"title": "Carol's", "severity": ["sev2"]})
    done_first = await ready.alice.submit_modal(first, {"title": "Alice's", "severity": ["sev1"]})
    answers = []
    for done in (done_first, done_second):
        assert done.acknowledged, done
        answers.append(done.followups[-1].content if done.followups else done.response.content)
    assert answers[1].startswith("🚨 **#1 Carol's** declared from alert")
    assert answers[0], answers  # alice is answered too, whatever the core decided
    alert = await stored(ready, result.alert.id)
    assert alert.incident_id is not None


async def test_declare_refuses_a_watcher_before_the_form(ready: World):
    """bob gets the refusal instead of a form he could not submit."""
    await ingest(ready, signal())
    (card,) = posts(ready)
    shown = await ready.bob.click(card, label="Declare incident")
    assert shown.modal is None and shown.ephemeral
    assert shown.response.content.startswith("Only members with the")


async def test_attach_offers_open_incidents_and_attaches(ready: World):
    """A menu of open incidents (privately); picking one attaches and records it."""
    await declare(ready, "Checkout errors")
    (result,) = await ingest(ready, signal())
    card = posts(ready)[-1]
    offer = await ready.alice.click(card, label="Attach to incident")
    assert offer.ephemeral and "A" in offer.response.content
    menu = offer.response.components[0]["components"][0]
    assert [o["label"] for o in menu["options"]] == ["#1 Checkout errors"]
    picked = await ready.alice.select(offer.response.message, ["1"])
    assert picked.response.content.startswith(
        f"🔗 Alert `A{result.alert.id}` is attached to **#1 Checkout errors**"
    )
    alert = await stored(ready, result.alert.id)
    incident = await ready.env.bot.services.incidents.get(ready.guild.id, IncidentRef(number=1))
    assert alert.incident_id == incident.id
    await ready.env.settle()
    assert fields(posts(ready)[-1])["Incident"] == "#1 Checkout errors"
    assert any("Alert firing" in line for line in thread_lines(thread_of(ready)))


async def test_attach_refuses_watchers_and_says_when_nothing_is_open(ready: World):
    """bob is refused; with no open incident, a responder is told to declare one."""
    await ingest(ready, signal())
    (card,) = posts(ready)
    refused = await ready.bob.click(card, label="Attach to incident")
    assert refused.ephemeral and refused.response.content.startswith("Only members with the")
    nothing = await ready.alice.click(card, label="Attach to incident")
    assert nothing.ephemeral
    assert (
        nothing.response.content == "There is no open incident to attach to; declare one instead."
    )


async def test_buttons_work_on_a_new_bot_over_the_same_database(ready: World, make_bot):
    """After a restart the old card's buttons still act (the custom_id carries the alert id)."""
    (result,) = await ingest(ready, signal())
    await declare(ready, "Checkout errors")
    (card,) = posts(ready)
    await ready.env.restart_bot(make_bot())
    offer = await ready.alice.click(card, label="Attach to incident")
    await ready.alice.select(offer.response.message, ["1"])
    click = await ready.alice.click(card, label="Acknowledge")
    assert click.acknowledged and not click.ephemeral
    alert = await stored(ready, result.alert.id)
    assert alert.acknowledged_at is not None and alert.incident_id is not None
    shown = await ready.alice.click(card, label="Declare incident")
    assert shown.modal is not None


async def test_the_digest_menu_shows_an_alert_with_its_buttons(ready: World):
    """Picking an alert in a digest shows its card privately, and its buttons work."""
    results = await ingest(ready, *(signal(f"s{n}", title=f"storm {n}") for n in range(7)))
    digest = posts(ready)[-1]  # after the burst's first three cards
    target = results[3].alert
    shown = await ready.bob.select(digest, [str(target.id)])
    assert shown.ephemeral and shown.response.embeds[0].title == "storm 3"
    click = await ready.alice.select(digest, [str(target.id)])
    taken = await ready.alice.click(click.response.message, label="Acknowledge")
    assert taken.acknowledged
    assert (await stored(ready, target.id)).acknowledged_by.id == ready.alice.id
    await ready.env.settle()
    digest = posts(ready)[-1]
    line = next(x for x in digest.embeds[0].description.splitlines() if "storm 3" in x)
    assert line.startswith("👀 acknowledged")


async def test_a_resolved_alert_can_still_be_attached(ready: World):
    """Resolved alerts belong in postmortems: Attach works, Acknowledge is greyed out."""
    await declare(ready, "Checkout errors")
    await ingest(ready, signal())
    await ingest(ready, signal(action=SignalAction.RESOLVE))
    card = posts(ready)[-1]
    offer = await ready.alice.click(card, label="Attach to incident")
    picked = await ready.alice.select(offer.response.message, ["1"])
    assert "attached to **#1 Checkout errors**" in picked.response.content
    incident = await ready.env.bot.services.incidents.get(ready.guild.id, IncidentRef(number=1))
    assert incident.status is Status.INVESTIGATING
    assert alerts_channel(ready).id == card.channel.id


async def test_every_alert_message_and_answer_goes_out_with_allowed_mentions_none(ready: World):
    """Cards, digests, edits and every button's answer carry allowed mentions none."""
    await declare(ready, "@everyone checkout")
    await ingest(ready, *(signal(f"s{n}", title=f"@everyone {n}") for n in range(8)))
    await ready.env.advance_time(STORM_QUIET_SECONDS + 1)  # the storm is over: a card again
    await ingest(ready, signal("solo", title=f"<@&{ready.responders.id}> solo"))
    await ready.env.advance_time(6)
    card = posts(ready)[-1]
    await ready.bob.click(card, label="Acknowledge")  # refused
    offer = await ready.alice.click(card, label="Attach to incident")
    await ready.alice.select(offer.response.message, ["1"])
    await ready.alice.click(card, label="Acknowledge")
    await ready.bob.select(
        posts(ready)[-2], [posts(ready)[-2].components[0].children[0].options[0].value]
    )
    await ready.env.settle()
    sent = [
        r
        for r in ready.env.http_requests
        if r.method in ("POST", "PATCH")
        and ("/messages" in r.path or r.path.startswith(("/webhooks/", "/interactions/")))
        and isinstance(r.json, dict)
    ]
    assert len(sent) > 10
    for request in sent:
        body = request.json.get("data", request.json)
        if "content" in body or "embeds" in body:
            assert body.get("allowed_mentions") == {"parse": []}, request

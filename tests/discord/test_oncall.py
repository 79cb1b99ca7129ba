"""`/opsroom config`, `/oncall pager …`, `/oncall test`, `/oncall rotation|who|override|away`
through the real command tree (SimCord); notices in #alerts and the on-call role moving."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.adapters.paging import AppriseUrls
from bot.core.services import Services
from tests.discord.conftest import World, acknowledge
from tests.discord.test_reminders import bot_posts

KEY = Fernet.generate_key()


@pytest.fixture
def services(uow_factory, clock) -> Services:
    """The test's services, with pagers on (a key), as `opsroom run` builds them."""
    return Services.build(uow_factory, clock, pager_urls=AppriseUrls(KEY))


@pytest.fixture
async def paged(ready: World) -> World:
    """Set up with a mentionable on-call role."""
    ready.oncall = ready.guild.create_role("On-call", mentionable=True)  # type: ignore[attr-defined]
    result = await ready.carol.slash(
        ready.general,
        "opsroom setup",
        responder_role=ready.responders,
        oncall_role=ready.oncall,  # type: ignore[attr-defined]
    )
    assert result.acknowledged
    return ready


async def test_config_shows_changes_and_refuses(ready: World):
    shown = await ready.carol.slash(ready.general, "opsroom config")
    assert shown.ephemeral
    assert "escalate_after = 5 min" in shown.response.content
    assert "update_sev4 = 0: no update nudges at sev4" in shown.response.content
    changed = await ready.carol.slash(
        ready.general, "opsroom config", escalate_after=3, escalate_repeats=1, update_sev1=0
    )
    assert changed.response.content.startswith("✅ Settings changed.")
    config = await ready.env.bot.services.guilds.get(ready.guild.id)
    assert config is not None
    assert (config.escalation_minutes, config.escalation_repeats) == (3, 1)
    assert "update_sev1 = 0: no update nudges" in changed.response.content
    commands = await ready.env.bot.tree.fetch_commands()
    opsroom = next(c for c in commands if c.name == "opsroom")
    ready.guild.set_command_permissions(opsroom, {ready.alice: True})
    refused = await ready.alice.slash(ready.general, "opsroom config", escalate_after=1)
    assert refused.ephemeral
    assert refused.response.content == "Only members with Manage Server can configure Opsroom."
    acknowledge(ready.env)


async def test_pagers_are_validated_masked_listed_and_removed(ready: World):
    refused = await ready.bob.slash(ready.general, "oncall pager add", url="ntfy://ntfy.sh/x")
    assert refused.response.content == "Only members with Manage Server can configure Opsroom."
    bad = await ready.carol.slash(ready.general, "oncall pager add", url="nope://x")
    assert bad.ephemeral and bad.response.content.startswith("Apprise cannot use that URL")
    assert "\n" not in bad.response.content
    acknowledge(ready.env)
    added = await ready.carol.slash(
        ready.general,
        "oncall pager add",
        url="ntfy://bob:topsecret99@ntfy.example.com/phone",
        name="phone",
        member=ready.alice,
    )
    assert added.ephemeral and "Pager added" in added.response.content
    assert "topsecret99" not in added.response.content
    listed = await ready.carol.slash(ready.general, "oncall pager list")
    assert "**phone**" in listed.response.content and "never tested" in listed.response.content
    assert f"wakes <@{ready.alice.id}>" in listed.response.content
    assert "topsecret99" not in listed.response.content
    removed = await ready.carol.slash(ready.general, "oncall pager remove", id=1)
    assert removed.response.content == "🗑️ pager 'phone' is removed."
    gone = await ready.carol.slash(ready.general, "oncall pager remove", id=1)
    assert gone.response.content == "There is no pager 1 in this server."
    acknowledge(ready.env)


async def test_rotation_moves_the_role_and_announces_pinging_only_the_new_person(
    paged: World, clock
):
    members = f"<@{paged.alice.id}> <@{paged.bob.id}>"
    result = await paged.carol.slash(
        paged.general, "oncall rotation", members=members, handoff="Mon 09:00"
    )
    assert result.ephemeral and result.response.content.startswith("🔁 Rotation set")
    await paged.env.settle()
    oncall = paged.oncall  # type: ignore[attr-defined]
    puts = [
        r
        for r in paged.env.http_requests
        if r.method == "PUT" and r.path.endswith(f"/roles/{oncall.id}")
    ]
    assert [r.path for r in puts] == [
        f"/guilds/{paged.guild.id}/members/{paged.alice.id}/roles/{oncall.id}"
    ]
    alerts = paged.channel("alerts")
    [sent] = [p for p in bot_posts(paged, alerts) if p["content"].startswith("📟")]
    assert sent["allowed_mentions"] == {"parse": [], "users": [paged.alice.id]}
    assert f"on call now <@{paged.alice.id}>" in sent["content"]

    who = await paged.bob.slash(paged.general, "oncall who")
    assert f"On call now: <@{paged.alice.id}> (rotation)" in who.response.content
    assert f"Next: <@{paged.bob.id}>" in who.response.content

    await paged.alice.slash(paged.general, "oncall away", until="2h", backup=paged.bob)
    await paged.env.settle()
    moves = [
        (r.method, r.path.split("/")[4])
        for r in paged.env.http_requests
        if r.path.endswith(f"/roles/{oncall.id}") and r.method in ("PUT", "DELETE")
    ]
    assert moves[-2:] == [("DELETE", str(paged.alice.id)), ("PUT", str(paged.bob.id))]

    clock.advance(hours=2, minutes=1)
    await paged.env.bot.services.oncall.sweep()
    await paged.env.settle()
    moves = [
        (r.method, r.path.split("/")[4])
        for r in paged.env.http_requests
        if r.path.endswith(f"/roles/{oncall.id}") and r.method in ("PUT", "DELETE")
    ]
    assert moves[-2:] == [("DELETE", str(paged.bob.id)), ("PUT", str(paged.alice.id))]


async def test_bad_rotation_input_is_one_line(paged: World):
    no_mentions = await paged.carol.slash(
        paged.general, "oncall rotation", members="alice bob", handoff="Mon 09:00"
    )
    assert no_mentions.response.content == "Name the members as mentions, e.g. @alice @bob."
    bad_time = await paged.carol.slash(
        paged.general, "oncall rotation", members=f"<@{paged.alice.id}>", handoff="soon"
    )
    assert "Mon 09:00" in bad_time.response.content and "\n" not in bad_time.response.content
    no_rotation = await paged.alice.slash(
        paged.general, "oncall override", user=paged.bob, until="2h"
    )
    assert no_rotation.response.content.startswith("There is no rotation to override")
    acknowledge(paged.env)

"""`/postmortem add` and `/postmortem show`, and the draft posted once per close."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord
import pytest
from simcord import ChannelHandle

from bot.adapters.discord import postmortem
from bot.core.errors import PermissionDeniedError
from bot.core.events import Event, StoredEvent, Topic
from bot.core.model import Incident, Member, Person, Severity, Status
from bot.core.services import IncidentRef
from tests.discord.conftest import World, acknowledge, close_anyway, declare
from tests.discord.test_incidents import thread_of

DRAFT = "postmortem-1-database-down.md"
NONCE = re.compile(r"^ev(\d+)\.([01])$")


def drafts(channel: ChannelHandle) -> list[discord.Message]:
    """The bot's messages in a channel or thread that carry a postmortem file."""
    return [
        m
        for m in channel.history()
        if m.author.bot and any(a.filename.startswith("postmortem-") for a in m.attachments)
    ]


def split_files(
    attachments: list[discord.Attachment],
) -> tuple[discord.Attachment, discord.Attachment]:
    """The draft (Markdown) and the picture (PNG) among a message's two files."""
    names = [a.filename.rsplit(".", 1)[-1] for a in attachments]
    assert sorted(names) == ["md", "png"], names
    draft = next(a for a in attachments if a.filename.endswith(".md"))
    picture = next(a for a in attachments if a.filename.endswith(".png"))
    assert picture.filename == draft.filename.removesuffix(".md") + ".png"
    return draft, picture


async def picture_of(attachments: list[discord.Attachment]) -> bytes:
    """The PNG a message carries beside its draft."""
    return await next(a for a in attachments if a.filename.endswith(".png")).read()


async def text_of(message: discord.Message) -> str:
    """The Markdown of the draft a message carries (beside its picture)."""
    draft, _ = split_files(message.attachments)
    return (await draft.read()).decode()


def file_posts(world: World, channel: ChannelHandle) -> list[dict]:
    """The JSON part of every upload the bot POSTed into a channel or thread."""
    return [
        r.json
        for r in world.env.http_requests
        if r.method == "POST"
        and r.path == f"/channels/{channel.id}/messages"
        and any(
            a.get("filename", "").startswith("postmortem-") for a in r.json.get("attachments", [])
        )
    ]


async def close(world: World, channel: ChannelHandle) -> None:
    """alice resolves and closes the incident of `channel`; the relay delivers."""
    for command in ("incident resolve", "incident close"):
        result = await world.alice.slash(channel, command)
        assert result.acknowledged, (command, result)
    await world.env.settle()


async def test_notes_in_several_sections_are_in_the_attached_draft(ready: World):
    """summary, root_cause and two went_well notes appear under their headings in show's file."""
    channel = await declare(ready)
    notes = [
        ("summary", "The primary database ran out of disk.", "Summary"),
        ("root_cause", "WAL archiving | silently stopped", "Root cause"),
        ("went_well", "Failover took two minutes", "What went well"),
        ("went_well", "The on-call runbook was current", "What went well"),
    ]
    for section, text, heading in notes:
        added = await ready.alice.slash(channel, "postmortem add", section=section, text=text)
        assert added.ephemeral and f"Added to **{heading}** of" in added.response.content, added
    shown = await ready.bob.slash(ready.general, "postmortem show", incident=1)
    assert shown.ephemeral and shown.response.content.startswith(
        "📄 Postmortem draft of **#1 Database down** as it stands now."
    )
    attachment, _ = split_files(shown.response.attachments)
    assert attachment.filename == DRAFT
    png = await picture_of(shown.response.attachments)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and 10_000 < len(png) < 1_000_000
    markdown = (await attachment.read()).decode()
    summary, rest = markdown.split("## 2. Summary", 1)[1].split("## 3. Impact", 1)
    assert "The primary database ran out of disk." in summary
    root_cause = rest.split("### Root cause", 1)[1].split("### Trigger", 1)[0]
    assert "WAL archiving | silently stopped" in root_cause
    went_well = rest.split("### What went well", 1)[1].split("### What went poorly", 1)[0]
    assert "- Failover took two minutes\n- The on-call runbook was current" in went_well
    assert "/postmortem add section:impact" in markdown  # still a TODO prompt


async def test_a_watcher_is_refused_add_but_may_show(ready: World):
    """bob (no responder role) cannot add a note, but gets the draft from show."""
    channel = await declare(ready)
    refused = await ready.bob.slash(channel, "postmortem add", section="summary", text="mine")
    assert refused.ephemeral
    (error,) = acknowledge(ready.env)
    assert isinstance(error.original, PermissionDeniedError)
    shown = await ready.bob.slash(channel, "postmortem show")
    assert shown.ephemeral
    attachment, _ = split_files(shown.response.attachments)
    markdown = (await attachment.read()).decode()
    assert "mine" not in markdown and "/postmortem add section:summary" in markdown


async def test_notes_may_be_added_after_close(ready: World):
    """Postmortems are written after the fact: a closed incident still takes notes."""
    channel = await declare(ready)
    await close(ready, channel)
    added = await ready.alice.slash(
        ready.general, "postmortem add", incident=1, section="lucky", text="It was a Sunday"
    )
    assert added.acknowledged and not acknowledge(ready.env)
    shown = await ready.alice.slash(ready.general, "postmortem show", incident=1)
    draft, _ = split_files(shown.response.attachments)
    assert "- It was a Sunday" in (await draft.read()).decode()


async def test_close_posts_one_draft_in_the_working_channel_and_one_in_the_thread(
    ready: World, clock
):
    """One file each, with the real timeline and UTC times, nonces from one event, no pings."""
    channel = await declare(ready, "@everyone Database down")
    clock.advance(minutes=7)
    await ready.alice.slash(channel, "timeline add", text="Disk on db-1 is 100% full")
    clock.advance(minutes=30)
    await close(ready, channel)
    thread = thread_of(ready)
    name = "postmortem-1-everyone-database-down.md"
    for place in (channel, thread):
        (message,) = drafts(place)
        draft, _ = split_files(message.attachments)
        assert draft.filename == name
        assert (await picture_of(message.attachments)).startswith(b"\x89PNG")
        assert message.content.startswith("📄 Postmortem draft of **#1 @everyone Database down**")
        markdown = await text_of(message)
        assert markdown.startswith("# #1 @\u200beveryone Database down")  # defused in the file
        assert "| 2026-03-01 12:07:00 | note | alice | Disk on db-1 is 100% full |" in markdown
        resolved = "| 2026-03-01 12:37:00 | status | alice | Status investigating → resolved |"
        assert resolved in markdown
        assert "| Status | closed |" in markdown
    posts = file_posts(ready, channel) + file_posts(ready, thread)
    assert len(posts) == 2
    assert all(p["allowed_mentions"] == {"parse": []} for p in posts)
    (event_0, part_0), (event_1, part_1) = (NONCE.match(p["nonce"]).groups() for p in posts)
    assert event_0 == event_1 and (part_0, part_1) == ("0", "1")
    assert all(p["enforce_nonce"] is True for p in posts)


async def test_a_restart_after_the_post_does_not_post_again(ready: World, make_bot):
    """The event is done once posted: a restarted notifier, then a new bot, post nothing."""
    channel = await declare(ready)
    await close(ready, channel)
    notifier = ready.env.bot.notifier
    await notifier.stop()
    notifier.start()
    await ready.env.settle()
    await ready.env.restart_bot(make_bot())
    await ready.env.settle()
    assert len(drafts(channel)) == 1 and len(drafts(thread_of(ready))) == 1


async def test_delivering_the_same_event_again_reuses_its_nonces(ready: World):
    """A crash between post and mark_done re-sends with the same nonces (Discord dedupes)."""
    channel = await declare(ready)
    await close(ready, channel)
    first = [p["nonce"] for p in file_posts(ready, channel) + file_posts(ready, thread_of(ready))]
    event_id = int(NONCE.match(first[0]).group(1))
    async with ready.env.bot.uow_factory() as uow:
        incident = await uow.incidents.get(ready.guild.id, 1)
    event = Event(Topic.INCIDENT_CLOSED, ready.guild.id, incident.id)
    stored = StoredEvent(event_id, event, incident.closed_at)
    await postmortem.DraftPoster(ready.env.bot.notifier)(stored)
    again = [p["nonce"] for p in file_posts(ready, channel) + file_posts(ready, thread_of(ready))]
    assert again == [first[0], first[0], first[1], first[1]]


async def test_reopen_and_close_again_posts_a_second_draft(ready: World, clock):
    """Closed, reopened, a new entry, closed again: two drafts in each place, the second newer."""
    channel = await declare(ready)
    await close(ready, channel)
    clock.advance(hours=1)
    await ready.alice.slash(channel, "incident status", state="investigating", note="it is back")
    await ready.alice.slash(channel, "timeline add", text="Second disk filled up")
    await close_anyway(ready, channel)
    await ready.env.settle()
    for place in (channel, thread_of(ready)):
        first, second = drafts(place)
        assert "Second disk filled up" not in await text_of(first)
        assert "Second disk filled up" in await text_of(second)
    nonces = {p["nonce"] for p in file_posts(ready, channel)}
    assert len(nonces) == 2


async def test_an_event_delivered_after_a_reopen_posts_nothing(ready: World, doorbell):
    """Closed and reopened before the relay ran: no draft of an incident that is open again."""
    channel = await declare(ready)
    doorbell.target = None  # hold delivery back
    await close_anyway(ready, channel)
    await ready.alice.slash(channel, "incident status", state="monitoring")
    ready.env.bot.notifier.wake()
    await ready.env.settle()
    assert drafts(channel) == [] and drafts(thread_of(ready)) == []


async def test_two_closes_delivered_late_post_one_draft(ready: World, doorbell, clock):
    """Closed, reopened and closed again while the relay was away: one draft per place."""
    channel = await declare(ready)
    doorbell.target = None
    await close_anyway(ready, channel)
    clock.advance(minutes=5)
    await ready.alice.slash(channel, "incident status", state="monitoring")
    await close_anyway(ready, channel)
    ready.env.bot.notifier.wake()
    await ready.env.settle()
    assert len(drafts(channel)) == 1 and len(drafts(thread_of(ready))) == 1


async def test_a_draft_bigger_than_the_file_limit_is_cut_with_a_note(
    ready: World, monkeypatch: pytest.MonkeyPatch
):
    """A huge timeline over a lowered limit: the file fits, ends naming `opsroom export`."""
    monkeypatch.setattr(postmortem, "MAX_FILE_BYTES", 20_000)
    channel = await declare(ready)
    actor = Member(Person(ready.alice.id, "alice"), frozenset({ready.responders.id}))
    timeline = ready.env.bot.services.timeline
    for n in range(300):
        await timeline.add(ready.guild.id, actor, IncidentRef(number=1), f"entry {n} " + "é" * 80)
    await close(ready, channel)
    export = f"`opsroom export --guild {ready.guild.id} --incident 1`"
    for place in (channel, thread_of(ready)):
        (message,) = drafts(place)
        assert export in message.content and "was cut" in message.content
        attachment, _ = split_files(message.attachments)
        data = await attachment.read()
        assert 15_000 < len(data) <= 20_000
        markdown = data.decode()  # cut at a line, so never inside a character
        assert markdown.startswith("# #1 Database down")
        assert markdown.rstrip().endswith(f"Get all of it with {export}.")


def test_a_draft_over_ten_mib_is_cut_to_ten_mib():
    """At Discord's real limit: 11 MiB of Markdown becomes a file of at most 10 MiB."""
    incident = _incident()
    small = postmortem.draft_file("# small\n", incident)
    assert small.data == b"# small\n" and not small.truncated
    big = postmortem.draft_file("| row |\n" * (11 * 1024 * 1024 // 8), incident)
    assert big.truncated and len(big.data) <= postmortem.MAX_FILE_BYTES == 10 * 1024 * 1024
    assert big.filename == "postmortem-4-disk-full.md"


async def test_a_broken_guild_template_is_reported_instead_of_a_file(ready: World, tmp_path):
    """The guild's template does not exist: both places say why, and nothing is attached."""
    channel = await declare(ready)
    async with ready.env.bot.uow_factory() as uow:
        config = await uow.guilds.get(ready.guild.id)
        config.postmortem_template = str(tmp_path / "missing.md.j2")
        await uow.guilds.save(config)
        await uow.commit()
    await close(ready, channel)
    for place in (channel, thread_of(ready)):
        (line,) = [m.content for m in place.history() if m.content.startswith("⚠️")]
        assert line.startswith("⚠️ Could not write the postmortem draft of **#1 Database down**: ")
        assert "missing.md.j2: no such file" in line and "`/postmortem show incident:1`" in line
        assert drafts(place) == []


def _incident() -> Incident:
    """A closed incident #4 "Disk full", for the pure file-size checks."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Incident(
        guild_id=1,
        number=4,
        title="Disk full",
        severity=Severity.SEV2,
        status=Status.CLOSED,
        declared_by=Person(1, "a"),
        started_at=at,
        detected_at=at,
        declared_at=at,
    )

"""What users see, built by pure functions: content, Discord markup, and Discord's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import discord

from bot.adapters.discord import incident_pages, limits, rendering
from bot.core.model import (
    ActionItem,
    ActionKind,
    ActionStatus,
    EntryKind,
    EntrySource,
    GuildConfig,
    Incident,
    IncidentRole,
    Person,
    RoleAssignment,
    Severity,
    Status,
    TimelineEntry,
)
from bot.core.services import IncidentPage

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Person(1, "alice")
HUGE = "word " * 5000  # 25,000 characters


def incident(**changes) -> Incident:
    """A sev1 incident #12 commanded by alice."""
    values = dict(
        guild_id=100,
        number=12,
        title="Database down",
        severity=Severity.SEV1,
        status=Status.INVESTIGATING,
        declared_by=ALICE,
        started_at=T0 - timedelta(minutes=10),
        detected_at=T0,
        declared_at=T0,
        roles=[RoleAssignment(IncidentRole.COMMANDER, ALICE, T0)],
        id=7,
    )
    values.update(changes)
    return Incident(**values)


def entry(seq: int = 1, text: str = "restarted the primary", **changes) -> TimelineEntry:
    """A note by alice at T0."""
    values = dict(
        incident_id=7,
        kind=EntryKind.NOTE,
        source=EntrySource.COMMAND,
        text=text,
        event_at=T0,
        recorded_at=T0,
        author=ALICE,
        seq=seq,
        id=seq,
    )
    values.update(changes)
    return TimelineEntry(**values)


def embed_fits(embed: discord.Embed) -> bool:
    """Every limit Discord enforces on one embed."""
    return (
        len(embed.title or "") <= limits.EMBED_TITLE
        and len(embed.description or "") <= limits.EMBED_DESCRIPTION
        and len(embed.fields) <= limits.EMBED_FIELDS
        and all(len(f.name) <= limits.FIELD_NAME for f in embed.fields)
        and all(0 < len(f.value) <= limits.FIELD_VALUE for f in embed.fields)
        and len(embed) <= limits.EMBED_TOTAL
    )


def test_card_shows_every_part_of_the_incident():
    """Title `#12 title`, severity with label, status, commander, role holders, times, update."""
    bob, carol = Person(2, "bob"), Person(3, "carol")
    card = rendering.incident_card(
        incident(
            summary="5xx everywhere",
            roles=[
                RoleAssignment(IncidentRole.COMMANDER, ALICE, T0),
                RoleAssignment(IncidentRole.SCRIBE, bob, T0),
                RoleAssignment(IncidentRole.OPS, bob, T0),
                RoleAssignment(IncidentRole.OPS, carol, T0),
            ],
            latest_update="failover done",
            latest_update_at=T0,
        )
    )
    fields = {f.name: f.value for f in card.fields}
    started = int((T0 - timedelta(minutes=10)).timestamp())
    assert card.title == "#12 Database down"
    assert card.description == "5xx everywhere"
    assert fields["Severity"] == "🔴 sev1 (critical)"
    assert fields["Status"] == "investigating"
    assert fields["Commander"] == "<@1>"
    assert fields["Scribe"] == "<@2>" and fields["Ops"] == "<@2>, <@3>"
    assert fields["Started"] == f"<t:{started}:f> (<t:{started}:R>)"
    assert fields["Duration"] == f"ongoing, began <t:{started}:R>"
    assert fields["Latest update"].startswith("failover done")
    assert card.colour.value == rendering.SEVERITY_COLOURS[Severity.SEV1]


def test_card_colour_and_duration_follow_the_status():
    """Resolved cards are green with a fixed duration; closed ones are grey."""
    resolved = incident(status=Status.RESOLVED, resolved_at=T0 + timedelta(minutes=55))
    closed = incident(status=Status.CLOSED, resolved_at=T0, closed_at=T0)
    card = rendering.incident_card(resolved)
    assert card.colour.value == rendering.RESOLVED_COLOUR
    assert {f.name: f.value for f in card.fields}["Duration"] == "1h 05m"
    assert rendering.incident_card(closed).colour.value == rendering.CLOSED_COLOUR


def test_card_with_huge_inputs_stays_within_embed_limits():
    """A 25,000-character summary and update, and dozens of role holders, still fit."""
    people = [Person(10**17 + n, "x" * 32) for n in range(80)]
    roles = [RoleAssignment(IncidentRole.COMMANDER, ALICE, T0)]
    roles += [RoleAssignment(r, p, T0) for p in people for r in rendering.SUPPORT_ROLES]
    card = rendering.incident_card(
        incident(
            title="t" * 200, summary=HUGE, latest_update=HUGE, latest_update_at=T0, roles=roles
        )
    )
    assert embed_fits(card)
    assert card.description.endswith(limits.ELLIPSIS)
    assert {f.name: f.value for f in card.fields}["Ops"].endswith(" more")


def test_fit_embed_trims_the_total_to_6000():
    """Ten full fields plus a full description exceed 6000 in total and are trimmed."""
    embed = discord.Embed(title="x" * 300, description="d" * 5000)
    for n in range(30):
        embed.add_field(name=f"f{n}" * 100, value="v" * 2000)
    limits.fit_embed(embed)
    assert embed_fits(embed)


def test_timeline_line_uses_discord_time_author_text_and_link():
    """`seq`, `<t:unix:T>`, the kind's mark, the author, the text and a jump link."""
    line = rendering.timeline_line(entry(5, jump_url="https://discord.com/channels/1/2/3"))
    assert line == (
        f"`5` <t:{int(T0.timestamp())}:T> 📝 **alice**: restarted the primary"
        " · [jump](https://discord.com/channels/1/2/3)"
    )


def test_long_entry_is_split_into_messages_within_2000():
    """A 4000-character entry becomes several thread messages, none over the limit."""
    posts = rendering.entry_posts(entry(text="y" * 3999 + " end"))
    assert len(posts) == 3
    assert all(len(p) <= limits.CONTENT for p in posts)
    assert "".join(posts).replace(" ", "").endswith("end")


def test_timeline_messages_fit_and_keep_the_latest_entries():
    """Hundreds of long entries: at most five messages of 2000, the newest entries kept."""
    entries = [entry(n, text=f"entry-{n} " + "z" * 300) for n in range(1, 301)]
    messages = rendering.timeline_messages(incident(), entries)
    assert len(messages) <= 5
    assert all(len(m) <= limits.CONTENT for m in messages)
    assert "entry-300" in messages[-1] and "entry-1 " not in "".join(messages)
    assert "latest" in messages[0]


def test_timeline_messages_without_entries():
    """An empty timeline says so."""
    assert rendering.timeline_messages(incident(), []) == [
        "**Timeline of #12 Database down**\nNo entries yet."
    ]


def test_entry_changed_lines():
    """Edited entries show their new text briefly; deleted ones only their number."""
    assert rendering.entry_changed_line(entry(4, deleted_at=T0)) == "🗑️ Entry 4 was deleted."
    edited = rendering.entry_changed_line(entry(4, text="new " * 500, edited_at=T0))
    assert edited.startswith("✏️ Entry 4 was edited") and len(edited) < 400


def test_an_incident_page_of_long_titles_fits_one_embed():
    """25 incidents with 200-character titles, commanders and channels: one embed within
    Discord's limits, one line each, and the buttons name the page's ends."""
    many = [incident(number=n, title="t" * 200, channel_id=10**17 + n) for n in range(60, 35, -1)]
    message = incident_pages.page_message("closed", IncidentPage(many, older=True, newer=False))
    embed = message["embed"]
    assert len(embed.description) <= limits.EMBED_DESCRIPTION
    assert len(embed.description.splitlines()) == 25
    assert len(embed) <= limits.EMBED_TOTAL
    ids = [item.custom_id for item in message["view"].children]
    assert ids == ["opsroom:incidents:closed:newer:60", "opsroom:incidents:closed:older:36"]
    empty = incident_pages.page_message("open", IncidentPage([], older=False, newer=False))
    assert empty["content"] == "No open incidents." and empty["view"] is None


def test_action_lines():
    """Open and done items with kind, owner, due date and completion time."""
    action = ActionItem(
        incident_id=7,
        text="add an alert on replication lag",
        kind=ActionKind.DETECT,
        created_at=T0,
        created_by=ALICE,
        owner=Person(2, "bob"),
        due=date(2026, 3, 8),
        seq=3,
    )
    assert rendering.action_line(action) == (
        "`3` ☐ add an alert on replication lag · detect · owner <@2> · due 2026-03-08"
    )
    action.status, action.done_at = ActionStatus.DONE, T0
    assert rendering.action_line(action).startswith("`3` ☑")
    assert f"done <t:{int(T0.timestamp())}:R>" in rendering.action_line(action)
    messages = rendering.action_list(incident(), [action] * 100)
    assert all(len(m) <= limits.CONTENT for m in messages)


def test_status_text_lists_settings_and_what_is_missing():
    """Every setting is shown; unset ones and reported problems are listed as missing."""
    config = GuildConfig(guild_id=100, responder_role_id=5, operating_room_id=6)
    text = rendering.status_text(config, ["the operating room is not read-only"])
    assert "Responder role: <@&5>" in text and "Operating room: <#6>" in text
    assert "alerts channel is not set" in text and "incident category is not set" in text
    assert "the operating room is not read-only" in text
    assert "not set up here yet" in rendering.status_text(None)


def test_channel_names_and_slugs():
    """`inc-12-<slug>`: lower case, hyphens, no punctuation, at most 100 characters."""
    assert rendering.channel_name(incident(title="DB: primary DOWN!! (eu-west)")) == (
        "inc-12-db-primary-down-eu-west"
    )
    assert rendering.slug("???") == "incident"
    assert len(rendering.channel_name(incident(title="a" * 200))) <= limits.CHANNEL_NAME
    assert len(rendering.thread_name(incident(title="b" * 200))) <= limits.THREAD_NAME


def test_truncate_and_split_helpers():
    """Truncation ends in an ellipsis; splitting prefers line breaks and cuts giant words."""
    assert limits.truncate("abcdef", 4) == "abc…" and limits.truncate("abc", 4) == "abc"
    assert limits.split_text("a" * 4500) == ["a" * 2000, "a" * 2000, "a" * 500]
    text = "line one\n" + "b" * 1500 + "\n" + "c" * 1500
    assert limits.split_text(text) == ["line one\n" + "b" * 1500, "c" * 1500]
    assert limits.pack_lines([], header="h") == ["h"]

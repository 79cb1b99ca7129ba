"""Responders (or Manage Server) change incidents; everyone else can watch and read only."""

from __future__ import annotations

import pytest

from bot.core.errors import NotConfiguredError, PermissionDeniedError
from tests.discord.conftest import World, acknowledge, declare
from tests.discord.test_incidents import cards, thread_lines, thread_of

REFUSAL = "Only members with the <@&{role}> role or Manage Server can change incidents"


def mutating(world: World) -> dict[str, dict]:
    """Every command that changes something, with valid options."""
    return {
        "incident declare": {"title": "Sneaky", "severity": "sev4"},
        "incident commander": {"user": world.bob},
        "incident role": {"user": world.bob, "role": "ops"},
        "incident unrole": {"user": world.alice, "role": "ops"},
        "incident severity": {"level": "sev4"},
        "incident status": {"state": "identified"},
        "incident update": {"text": "all good"},
        "incident resolve": {},
        "incident close": {},
        "incident milestone": {"name": "started", "at": "-5m"},
        "timeline add": {"text": "I was here"},
        "timeline edit": {"id": 1, "text": "rewritten"},
        "timeline delete": {"id": 1},
        "action add": {"text": "something"},
        "action done": {"id": 1},
        "postmortem add": {"section": "summary", "text": "my version"},
        "maintenance schedule": {"title": "Sneaky", "start": "+1h", "end": "+2h"},
        "maintenance cancel": {"id": 1},
        "watch cert": {"host": "example.com"},
        "watch remove": {"id": 1},
    }


MUTATING = [
    "incident declare",
    "incident commander",
    "incident role",
    "incident unrole",
    "incident severity",
    "incident status",
    "incident update",
    "incident resolve",
    "incident close",
    "incident milestone",
    "timeline add",
    "timeline edit",
    "timeline delete",
    "action add",
    "action done",
    "postmortem add",
    "maintenance schedule",
    "maintenance cancel",
    "watch cert",
    "watch remove",
]
# Other rules, tested in tests/discord/test_statuspage.py: publishing is for the commander
# or comms, the page itself for Manage Server; its components are responders' (as here).
OTHER_RULES = {"incident publish", "statuspage enable", "statuspage disable"}


async def test_every_mutating_command_is_covered(env):
    """MUTATING is every subcommand that is not a read, so a new one cannot be forgotten."""
    reads = {"incident show", "incident list", "timeline show", "action list", "postmortem show"}
    reads |= {"maintenance list", "statuspage component"}  # a subgroup, not a command
    reads |= {"watch list"}
    names = {
        f"{group.name} {command.name}"
        for group in env.bot.tree.get_commands()
        if group.name != "opsroom" and hasattr(group, "commands")
        for command in group.commands
    }
    assert names - reads - OTHER_RULES == set(MUTATING)


@pytest.mark.parametrize("name", MUTATING)
async def test_watcher_is_refused_every_change(ready: World, name: str):
    """bob (no responder role) gets a one-line ephemeral refusal and nothing changes."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "action add", text="the first item")
    await ready.alice.slash(channel, "incident role", user=ready.alice, role="ops")
    options = mutating(ready)[name]
    room_before = len(thread_lines(thread_of(ready)))
    result = await ready.bob.slash(channel, name, **options)
    assert result.ephemeral
    assert result.response.content.startswith(REFUSAL.format(role=ready.responders.id))
    (error,) = acknowledge(ready.env)
    assert isinstance(error.original, PermissionDeniedError)
    assert len(thread_lines(thread_of(ready))) == room_before
    incidents = await ready.env.bot.services.incidents.list(ready.guild.id)
    assert [(i.number, i.status.value, i.severity.value) for i in incidents] == [
        (1, "investigating", "sev1")
    ]


async def test_watcher_is_refused_the_message_menu(ready: World):
    """Add to timeline is a change too."""
    channel = await declare(ready)
    message = await ready.alice.send(channel, "important")
    result = await ready.bob.context_menu(channel, "Add to timeline", message)
    assert result.ephemeral and result.response.content.startswith("Only members with")
    acknowledge(ready.env)


async def test_watcher_can_read_everything(ready: World):
    """show, list, timeline show and action list all answer bob."""
    channel = await declare(ready)
    await ready.alice.slash(channel, "action add", text="follow up")
    show = await ready.bob.slash(channel, "incident show")
    listed = await ready.bob.slash(channel, "incident list")
    timeline = await ready.bob.slash(channel, "timeline show")
    actions = await ready.bob.slash(channel, "action list")
    assert show.response.embeds[0].title == "#1 Database down"
    assert "#1 Database down" in listed.response.content
    assert "Declared" in timeline.response.content
    assert "follow up" in actions.response.content
    assert acknowledge(ready.env) == []


async def test_watcher_sees_the_operating_room_but_cannot_post(ready: World):
    """The room card and its thread are visible to bob."""
    await declare(ready)
    room = ready.channel("operating-room")
    assert cards(room) and room.history(viewer=ready.bob)
    assert thread_of(ready).history(viewer=ready.bob)


async def test_manage_server_may_change_without_the_role(ready: World):
    """carol (Manage Server, no responder role) can run an incident."""
    channel = await declare(ready)
    result = await ready.carol.slash(channel, "incident severity", level="sev2")
    assert not result.ephemeral and "sev2" in result.response.content


async def test_before_setup_only_admins_may_declare(world: World):
    """Without setup there is no responder role: members are told to run setup first."""
    result = await world.alice.slash(
        world.general, "incident declare", title="Too early", severity="sev2"
    )
    assert result.ephemeral and "/opsroom setup" in result.response.content
    (error,) = acknowledge(world.env)
    assert isinstance(error.original, NotConfiguredError)

"""Failures always get an answer: refusals in one line, bugs logged with a short apology."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.adapters.discord import interactions
from bot.adapters.discord.client import GENERIC_ERROR, STORAGE_ERROR
from bot.core.errors import StorageUnavailableError
from tests.discord.conftest import World, acknowledge, declare, first_answer


async def test_unexpected_exception_gets_a_short_ephemeral_reply_and_is_logged(
    ready: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A bug in a command: the user sees one ephemeral line, the log has the traceback."""
    channel = await declare(ready)

    async def broken(*args, **kwargs):
        raise RuntimeError("the database driver exploded")

    monkeypatch.setattr(ready.env.bot.services.timeline, "add", broken)
    with caplog.at_level(logging.ERROR, logger="bot.adapters.discord.client"):
        result = await ready.alice.slash(channel, "timeline add", text="hello")
    assert result.ephemeral and result.response.content == GENERIC_ERROR
    (record,) = [r for r in caplog.records if r.name == "bot.adapters.discord.client"]
    assert "timeline add" in record.getMessage()
    assert record.exc_info and "the database driver exploded" in str(record.exc_info[1])
    (error,) = acknowledge(ready.env)
    assert isinstance(error.original, RuntimeError)


async def test_failure_after_deferring_is_answered_by_followup(
    ready: World, monkeypatch: pytest.MonkeyPatch
):
    """declare deferred, then making the rooms failed: the "thinking…" message says so."""

    async def broken(*args, **kwargs):
        raise RuntimeError("Discord is having a day")

    monkeypatch.setattr(ready.env.bot.notifier.rooms, "ensure", broken)
    result = await ready.alice.slash(
        ready.general, "incident declare", title="Unlucky", severity="sev2"
    )
    assert first_answer(ready.env) == 5
    assert result.response.content == GENERIC_ERROR
    acknowledge(ready.env)


async def test_database_outage_is_explained(ready: World, monkeypatch: pytest.MonkeyPatch):
    """StorageUnavailableError becomes a "try again" line, not the generic apology."""

    async def down(*args, **kwargs):
        raise StorageUnavailableError("database is locked")

    monkeypatch.setattr(ready.env.bot.services.incidents, "page", down)
    result = await ready.bob.slash(ready.general, "incident list")
    assert result.ephemeral and result.response.content == STORAGE_ERROR
    acknowledge(ready.env)


async def test_autocomplete_failure_offers_nothing(ready: World, monkeypatch: pytest.MonkeyPatch):
    """A broken autocomplete answers with no choices instead of leaving Discord waiting."""

    async def down(*args, **kwargs):
        raise StorageUnavailableError("database is locked")

    monkeypatch.setattr(ready.env.bot.services.incidents, "list", down)
    choices = await ready.alice.autocomplete(ready.general, "incident show", "incident", "")
    assert choices == []


async def test_every_reply_goes_out_with_allowed_mentions_none(ready: World):
    """Nothing Opsroom sends can ping: every message and reply carries allowed_mentions none."""
    channel = await declare(ready, summary="@everyone look")
    await ready.alice.slash(channel, "timeline add", text=f"<@&{ready.responders.id}> @everyone")
    await ready.alice.slash(channel, "incident update", text="@here fixed")
    await ready.bob.slash(channel, "incident show")
    sent = [
        r
        for r in ready.env.http_requests
        if r.method in ("POST", "PATCH")
        and ("/messages" in r.path or r.path.startswith(("/webhooks/", "/interactions/")))
        and isinstance(r.json, dict)
    ]
    assert sent
    for request in sent:
        body = request.json.get("data", request.json)
        if "content" in body or "embeds" in body:
            assert body.get("allowed_mentions") == {"parse": []}, request


async def test_a_slow_core_call_is_deferred_in_time(ready: World, monkeypatch: pytest.MonkeyPatch):
    """When the database is slow the command shows "thinking…" before Discord's 3 s run out."""
    monkeypatch.setattr(interactions, "DEFER_AFTER_SECONDS", 0.05)
    incidents = ready.env.bot.services.incidents
    declare_now = incidents.declare

    async def slow_declare(*args, **kwargs):
        await asyncio.sleep(0.3)
        return await declare_now(*args, **kwargs)

    monkeypatch.setattr(incidents, "declare", slow_declare)
    result = await ready.alice.slash(
        ready.general, "incident declare", title="Slow disk", severity="sev3"
    )
    assert first_answer(ready.env) == 5
    assert result.response.content.startswith("🚨 **#1 Slow disk** declared")

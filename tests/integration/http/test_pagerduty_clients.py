"""PagerDuty's own Python clients, pointed at Opsroom: `pdpyras` 5.4 `EventsAPISession` and
`pagerduty` 7.2 `EventsApiV2Client`. Both append `/v2/enqueue` to their base URL, send the
token as `routing_key` and read `dedup_key` from the answer."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trustme
from aiohttp.test_utils import TestServer

from bot.core.alerts import AlertSource, AlertState
from tests.integration.http.conftest import Hooks

with warnings.catch_warnings():  # pdpyras warns that `pagerduty` succeeds it; both are in use
    warnings.simplefilter("ignore")
    import pdpyras

import pagerduty


@pytest.fixture
async def tls_base(hooks: Hooks) -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    """The same app also served over TLS (the `pagerduty` client accepts only https), with a
    throwaway CA the client is told to trust."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = TestServer(hooks.app, host="127.0.0.1")
    await server.start_server(ssl=server_context)
    try:
        yield f"https://127.0.0.1:{server.port}", client_context
    finally:
        await server.close()


def plain_base(hooks: Hooks) -> str:
    """The test server's http base URL."""
    return str(hooks.client.make_url("")).rstrip("/")


async def in_thread(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The clients are synchronous: run them beside the event loop that serves them."""
    return await asyncio.to_thread(call, *args, **kwargs)


async def drive(hooks: Hooks, trigger, acknowledge, resolve) -> None:
    """trigger → repeat → acknowledge → resolve; a trigger without dedup_key gets one."""
    key = await in_thread(trigger, "Disk 97% on db1", "db1", dedup_key="disk-db1")
    assert key == "disk-db1"
    assert await in_thread(trigger, "Disk 98% on db1", "db1", dedup_key="disk-db1") == key
    assert await in_thread(acknowledge, key) == key
    assert await in_thread(resolve, key) == key
    made = await in_thread(trigger, "[FIRING:1] Load high", "web-1")
    assert isinstance(made, str) and len(made) == 32
    first, second = await hooks.alerts()
    assert (first.stream_key, first.count, first.state) == ("disk-db1", 2, AlertState.RESOLVED)
    assert first.acknowledged_at is not None and first.title == "Disk 98% on db1"
    assert (second.stream_key, second.title, second.state) == (
        made,
        "Load high",
        AlertState.FIRING,
    )


@pytest.mark.parametrize("base_path", ["", "/hooks/events"])
async def test_pdpyras_events_session(hooks: Hooks, base_path: str) -> None:
    """pdpyras with its `url` set to Opsroom (or Opsroom's /hooks/events)."""
    _, token = await hooks.webhook(AlertSource.EVENTS)
    session = pdpyras.EventsAPISession(token)
    session.url = plain_base(hooks) + base_path
    session.retry = {}  # a failure must fail the test, not be retried
    try:
        await drive(hooks, session.trigger, session.acknowledge, session.resolve)
    finally:
        session.close()


@pytest.mark.parametrize("base_path", ["", "/hooks/events"])
async def test_pagerduty_events_client(
    hooks: Hooks, tls_base: tuple[str, ssl.SSLContext], base_path: str
) -> None:
    """pagerduty's EventsApiV2Client with `base_url` set to Opsroom, over TLS."""
    base, trust = tls_base
    _, token = await hooks.webhook(AlertSource.EVENTS)
    client = pagerduty.EventsApiV2Client(token, base_url=base + base_path, verify=trust)
    try:
        await drive(hooks, client.trigger, client.acknowledge, client.resolve)
    finally:
        client.close()


async def test_a_wrong_routing_key_fails_the_client(hooks: Hooks) -> None:
    """An unknown routing key is an error the client raises, not a silent success."""
    session = pdpyras.EventsAPISession("not-a-token")
    session.url = plain_base(hooks)
    session.retry = {}
    try:
        with pytest.raises(pdpyras.PDClientError):
            await in_thread(session.trigger, "x", "y")
    finally:
        session.close()
    assert await hooks.alerts() == []

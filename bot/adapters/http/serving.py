"""How connections are served: idle and slow ones are bounded, and nothing runs after an answer.

Passed to aiohttp as the application's `handler_args`, so every runner of the app (the
process's and the tests') serves it the same way.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

IDLE_SECONDS = 15.0
"""aiohttp's keep-alive timer runs from the moment a connection opens and again after each
answer, and it closes a connection that is waiting for (the rest of) a request's headers
when it fires. So this one number is both the header read timeout (a connection that sends
nothing, or trickles its headers, is closed after it) and the bound on an idle keep-alive
connection. Monitors post far less often than this, so keeping connections longer buys
nothing; aiohttp's default is an hour."""

MAX_KEPT_ALIVE = 256
"""Above this many open connections, an answer closes its connection instead of keeping it
alive: a sender with a thousand idle connections holds them only until each is answered,
and never more than `IDLE_SECONDS`."""

HANDLER_ARGS: dict[str, Any] = {
    "keepalive_timeout": IDLE_SECONDS,
    # After the answer, aiohttp would read (and discard) the rest of an unread body for up
    # to 10 s; 0 closes the connection instead, so a refused body costs nothing more.
    "lingering_time": 0,
    # Bodies are inflated by `bodies.read_body`, which stops at the size limit; aiohttp's
    # own inflation has no bound and went on after the answer.
    "auto_decompress": False,
}


def open_connections(request: web.Request) -> int:
    """How many connections the server that took this request has open (0 if unknown)."""
    manager = getattr(request.protocol, "_manager", None)
    connections = getattr(manager, "connections", None)
    return len(connections) if connections is not None else 0


@web.middleware
async def bounded_keep_alive(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Close the connection after the answer when too many are open."""
    response = await handler(request)
    if open_connections(request) > MAX_KEPT_ALIVE:
        response.force_close()
    return response

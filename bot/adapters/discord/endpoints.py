"""Point discord.py at another Discord: a REST proxy, an emulator, or a test double.

discord.py reads `Route.BASE` each time it builds a request (interaction callbacks and
followups included) and connects a plain `Client` straight to
`DiscordWebSocket.DEFAULT_GATEWAY` without asking `GET /gateway/bot`, so two class
attributes redirect everything. Call `point_at` before the bot logs in, and never call
`HTTPClient._set_api_version()` afterwards: it rewrites `Route.BASE`.
"""

from __future__ import annotations

import logging

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

log = logging.getLogger(__name__)

DISCORD_API_BASE = Route.BASE
DISCORD_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY


def point_at(api_base: str | None, gateway_url: str | None) -> None:
    """Use `api_base` for REST (e.g. `http://127.0.0.1:8000/api/v10`) and `gateway_url`.

    `None` restores Discord's own endpoint, so calling this with the settings as they are
    is always right. The REST base is used as given: include the API version path if the
    server expects one, as Discord's own base does.
    """
    Route.BASE = api_base.rstrip("/") if api_base else DISCORD_API_BASE
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url) if gateway_url else DISCORD_GATEWAY
    if api_base or gateway_url:
        log.info(
            "Discord endpoints: REST %s, gateway %s", Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        )

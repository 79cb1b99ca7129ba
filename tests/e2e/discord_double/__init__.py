"""A small, faithful Discord double that the real discord.py client talks to over loopback.

Start it and point discord.py at it (or use the ``discord_double`` fixture)::

    async with DiscordDouble(message_limit=(5, 1.0)) as double:
        with point_discord_py_at(double):          # Route.BASE + DEFAULT_GATEWAY
            async with double.running(bot):         # start, wait for READY, close after
                record = await double.slash(double.guild, "general", "alice", "timeline",
                                            subcommand="add", options={"text": "db down"})

A bot in another process is pointed at ``double.api_base`` and ``double.gateway_url``
(``OPSROOM_DISCORD_API_BASE`` / ``OPSROOM_DISCORD_GATEWAY_URL``) with ``double.token``.

The world: ``double.world`` (``add_user``, ``add_guild``, ``add_role``, ``add_member``,
``add_channel``; changes are dispatched on the gateway), prebuilt ``alice`` (owner), ``bob``,
``guild`` and ``general``.

Acting as users (each returns an ``InteractionRecord`` once answered; ``wait=False`` to not
wait): ``slash``, ``autocomplete``, ``click``, ``message_command``, ``submit_modal``; and
``post_message`` (a member writes; MESSAGE_CREATE).

Breaking things: ``double.gateway.send_reconnect()`` (op 7), ``.drop()`` (TCP abort),
``.freeze()`` (silence), ``.invalidate_session(resumable=...)``, ``.close(code)``,
``.refuse_next_resume``, ``.ack_heartbeats``; ``double.limiter.inject(route, status=429|5xx,
count=N, retry_after=s, scope="user"|"global"|"shared", after_commit=bool,
params={"channel_id": …})``, ``double.limiter.set_route(route, limit, per)``.

Asserting: ``double.requests`` / ``requests_to(route)`` (method, path, json, files, headers,
times, status, response and its headers), ``double.unknown_routes`` (the fixture fails a test
that hit one), ``double.limiter.provoked_429s`` / ``injected_429s`` / ``given``,
``double.invalid_requests``, ``double.messages_in(channel)`` (with ``pinged_users``,
``pinged_roles``, ``pinged_everyone``, ``edits``, ``files``), ``double.command_syncs``,
``double.interactions``, ``double.gateway.identifies`` / ``resumes`` / ``connections``.
"""

from .double import DiscordDouble, point_discord_py_at
from .interactions import InteractionRecord
from .ratelimit import MESSAGE_ROUTE, RateLimiter
from .state import Channel, Guild, Member, Message, Overwrite, Role, User

__all__ = [
    "MESSAGE_ROUTE",
    "Channel",
    "DiscordDouble",
    "Guild",
    "InteractionRecord",
    "Member",
    "Message",
    "Overwrite",
    "RateLimiter",
    "Role",
    "User",
    "point_discord_py_at",
]

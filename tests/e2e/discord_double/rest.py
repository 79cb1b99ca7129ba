"""REST: the request pipeline (record → auth → rate limits and faults → handler → headers) and
the user, application, command and guild routes. Unknown routes answer 404 and are
recorded in ``double.unknown_routes``: the double never fakes a success it does not model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from . import limits
from .wire import (
    Call,
    Reply,
    RequestRecord,
    Router,
    error,
    json_response,
    no_content,
    ok,
    read_body,
)

if TYPE_CHECKING:
    from .double import DiscordDouble

router = Router()


async def handle(double: DiscordDouble, request: web.Request) -> web.Response:
    """Every /api/v10 request goes through here."""
    path = "/" + request.match_info["tail"]
    body, uploads = await read_body(request)
    record = RequestRecord(
        request.method, path, dict(request.query), dict(request.headers), json=body, files=uploads
    )
    double.requests.append(record)
    try:
        return await _answer(double, record)
    finally:
        if record.status in (401, 403, 429):
            double.invalid_requests.append(record)
        double.notify()


async def _answer(double: DiscordDouble, record: RequestRecord) -> web.Response:
    found = double.router.match(record.method, record.path)
    if found is None:
        double.unknown_routes.append(record)
        return _finish(record, error(404, 0, "404: Not Found"), {})
    route, params = found
    record.route, record.params = route.key, params
    auth = record.headers.get("Authorization")
    if not route.public and auth != f"Bot {double.world.token}":
        return _finish(record, error(401, 0, "401: Unauthorized"), {})
    decision = double.limiter.admit(
        record.method, record.path, route.key, params, global_exempt=route.global_exempt
    )
    if decision.status:
        return _finish(record, Reply(decision.status, decision.body), decision.headers)
    reply = await route.handler(Call(double, record, params))
    if decision.fault is not None:  # after_commit: the work is done, the answer is lost
        reply = error(decision.fault.status, 0, "Server error (injected after commit)")
    return _finish(record, reply, decision.headers)


def _finish(record: RequestRecord, reply: Reply, headers: dict[str, str]) -> web.Response:
    headers = {**headers, **reply.headers}
    record.status, record.response, record.response_headers = reply.status, reply.body, headers
    return json_response(reply.status, reply.body, headers)


# -- users and the application ------------------------------------------------------------


@router.add("GET", "/users/@me")
async def get_me(call: Call) -> Reply:
    return ok({**call.double.world.bot.payload(), "verified": True, "mfa_enabled": False})


@router.add("GET", "/users/{user_id}")
async def get_user(call: Call) -> Reply:
    user = call.double.world.users.get(call.param("user_id"))
    return error(404, 10013, "Unknown User") if user is None else ok(user.payload())


@router.add("GET", "/oauth2/applications/@me")
async def get_application(call: Call) -> Reply:
    world = call.double.world
    owner = world.bot
    if world.guilds:
        first = next(iter(world.guilds.values()))
        owner = world.users[first.owner_id]
    return ok(
        {
            "id": str(world.application_id),
            "name": world.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "00" * 32,
            "flags": 0,
            "owner": owner.payload(),
            "team": None,
            "bot": world.bot.payload(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "approximate_guild_count": len(world.guilds),
        }
    )


# -- application commands -----------------------------------------------------------------


async def _sync(call: Call, guild_id: int | None) -> Reply:
    commands = call.body if isinstance(call.body, list) else []
    problems = limits.check_commands(commands)
    if problems:
        return Reply(400, limits.form_error(problems))
    if guild_id is not None and guild_id not in call.double.world.guilds:
        return error(403, 50001, "Missing Access")
    stored = call.double.world.register_commands(guild_id, commands)
    call.double.command_syncs.append(
        {"guild_id": guild_id, "commands": commands, "at": call.record.at}
    )
    return ok(stored)


@router.add("PUT", "/applications/{application_id}/commands")
async def sync_global(call: Call) -> Reply:
    return await _sync(call, None)


@router.add("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def sync_guild(call: Call) -> Reply:
    return await _sync(call, call.param("guild_id"))


@router.add("GET", "/applications/{application_id}/commands")
async def list_global(call: Call) -> Reply:
    return ok(call.double.world.global_commands)


@router.add("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def list_guild(call: Call) -> Reply:
    return ok(call.double.world.guild_commands.get(call.param("guild_id"), []))


# -- guilds -------------------------------------------------------------------------------


@router.add("GET", "/guilds/{guild_id}")
async def get_guild(call: Call) -> Reply:
    guild = call.double.world.guilds.get(call.param("guild_id"))
    if guild is None:
        return error(404, 10004, "Unknown Guild")
    data = guild.payload()
    for key in ("members", "channels", "threads", "presences", "voice_states"):
        data.pop(key)
    return ok(data)


@router.add("GET", "/guilds/{guild_id}/channels")
async def guild_channels(call: Call) -> Reply:
    guild = call.double.world.guilds.get(call.param("guild_id"))
    if guild is None:
        return error(404, 10004, "Unknown Guild")
    return ok(guild.payload()["channels"])


@router.add("GET", "/guilds/{guild_id}/roles")
async def guild_roles(call: Call) -> Reply:
    guild = call.double.world.guilds.get(call.param("guild_id"))
    if guild is None:
        return error(404, 10004, "Unknown Guild")
    return ok([r.payload() for r in guild.roles.values()])


@router.add("GET", "/guilds/{guild_id}/members/{user_id}")
async def guild_member(call: Call) -> Reply:
    guild = call.double.world.guilds.get(call.param("guild_id"))
    member = None if guild is None else guild.members.get(call.param("user_id"))
    return error(404, 10007, "Unknown Member") if member is None else ok(member.payload())


# -- member roles: Manage Roles, and only roles below the bot's highest -------------------


async def _member_role(call: Call, add: bool) -> Reply:
    from .permissions import MANAGE_ROLES, base_permissions

    world = call.double.world
    guild = world.guilds.get(call.param("guild_id"))
    if guild is None:
        return error(404, 10004, "Unknown Guild")
    member = guild.members.get(call.param("user_id"))
    if member is None:
        return error(404, 10007, "Unknown Member")
    role = guild.roles.get(call.param("role_id"))
    if role is None:
        return error(404, 10011, "Unknown Role")
    me = guild.members[world.bot.id]
    if not base_permissions(guild, me) & MANAGE_ROLES:
        return error(403, 50013, "Missing Permissions")
    top = max((guild.roles[r].position for r in me.roles if r in guild.roles), default=0)
    if role.position >= top and me.user.id != guild.owner_id:
        return error(403, 50013, "Missing Permissions")
    if add and role.id not in member.roles:
        member.roles.append(role.id)
    elif not add and role.id in member.roles:
        member.roles.remove(role.id)
    call.double.gateway.dispatch(
        "GUILD_MEMBER_UPDATE", {**member.payload(), "guild_id": str(guild.id)}, guild.id
    )
    return no_content()


@router.add("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def add_member_role(call: Call) -> Reply:
    return await _member_role(call, add=True)


@router.add("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def remove_member_role(call: Call) -> Reply:
    return await _member_role(call, add=False)

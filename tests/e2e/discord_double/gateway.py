"""The gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, sessions that buffer every
dispatch so RESUME replays exactly what the client missed, and the knobs that break things
(op 7 RECONNECT, abrupt drops, INVALID_SESSION, close codes). Plain JSON text frames.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .world import World

log = logging.getLogger(__name__)

HELLO, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 10, 1, 2, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HEARTBEAT_ACK = 8, 9, 11
GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 1, 1 << 9, 1 << 15
INTENT_FOR = {
    **dict.fromkeys(
        [
            "GUILD_CREATE",
            "GUILD_UPDATE",
            "GUILD_DELETE",
            "GUILD_ROLE_CREATE",
            "GUILD_ROLE_UPDATE",
            "GUILD_ROLE_DELETE",
            "CHANNEL_CREATE",
            "CHANNEL_UPDATE",
            "CHANNEL_DELETE",
            "CHANNEL_PINS_UPDATE",
            "THREAD_CREATE",
            "THREAD_UPDATE",
            "THREAD_DELETE",
        ],
        GUILDS,
    ),
    **dict.fromkeys(
        ["GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"], GUILD_MEMBERS
    ),
    **dict.fromkeys(["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"], GUILD_MESSAGES),
}


@dataclass
class Entry:
    seq: int
    event: str
    text: str
    replayable: bool


@dataclass
class Session:
    id: str
    intents: int
    shard: list[int] | None = None
    seq: int = 0
    buffer: list[Entry] = field(default_factory=list)
    connection: Connection | None = None
    invalidated: bool = False

    def push(self, event: str, data: Any, *, replayable: bool = True) -> int:
        self.seq += 1
        frame = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.buffer.append(Entry(self.seq, event, json.dumps(frame), replayable))
        if self.connection is not None:
            self.connection.wake.set()
        return self.seq


@dataclass
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    path: str
    session: Session | None = None
    sent_upto: int = 0
    skip_upto: int = 0  # READY/RESUMED at or below this seq are not replayed
    closing: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    heartbeats: int = 0
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None

    async def send(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        async with self.lock:
            await self.ws.send_str(text)


@dataclass
class ResumeRecord:
    session_id: str
    client_seq: int | None
    accepted: bool
    path: str
    replayed: list[tuple[int, str]] = field(default_factory=list)  # (seq, event)


class GatewayServer:
    """Serves /gateway and /gateway-resume; every session receives every dispatch it may see."""

    def __init__(
        self,
        world: World,
        *,
        heartbeat_interval: float = 1.0,
        buffer_limit: int = 5000,
        application_flags: int = 0,
    ) -> None:
        self.world = world
        self.heartbeat_interval = heartbeat_interval
        self.buffer_limit = buffer_limit
        self.application_flags = application_flags
        self.resume_url = ""  # set by the double once its port is known
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[ResumeRecord] = []
        self.received: list[dict[str, Any]] = []  # every frame the client sent
        self.ack_heartbeats = True
        self.refuse_next_resume = False

    # -- state for tests -------------------------------------------------------------------

    @property
    def live(self) -> list[Connection]:
        return [c for c in self.connections if c.closed_at is None and not c.closing]

    @property
    def current(self) -> Session | None:
        """The session of the newest live connection, if any."""
        for connection in reversed(self.live):
            if connection.session is not None:
                return connection.session
        return None

    # -- dispatch --------------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None = None) -> None:
        """Send an event to every valid session allowed to see it (buffered for RESUME)."""
        guild = None if guild_id is None else self.world.guilds.get(guild_id)
        if guild_id is not None and (guild is None or self.world.bot.id not in guild.members):
            return
        need = INTENT_FOR.get(event, 0)
        for session in self.sessions.values():
            if session.invalidated or (need and not session.intents & need):
                continue
            payload = data
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
                payload = self._redact(session, data)
            session.push(event, payload)
            del session.buffer[: max(len(session.buffer) - self.buffer_limit, 0)]

    def _redact(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        """Without MESSAGE_CONTENT a bot sees only its own messages' text and its mentions."""
        bot = str(self.world.bot.id)
        mentioned = any(u.get("id") == bot for u in data.get("mentions", []))
        if session.intents & MESSAGE_CONTENT or data["author"]["id"] == bot or mentioned:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    # -- knobs -----------------------------------------------------------------------------

    async def send_reconnect(self) -> None:
        """op 7 on every live connection; nothing more is sent on them afterwards."""
        for connection in self.live:
            connection.closing = True
            await connection.send({"op": RECONNECT, "d": None})

    async def drop(self) -> None:
        """Abort every live connection's TCP transport: no close frame, like a network cut."""
        for connection in self.live:
            connection.closing = True
            transport = connection.request.transport
            if transport is not None:
                transport.abort()

    def freeze(self) -> None:
        """Go silent on every live connection (no dispatches, no ACKs), socket left open:
        the client must notice by itself (discord.py: ``heartbeat_timeout``) and RESUME."""
        for connection in self.live:
            connection.closing = True

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        for connection in self.live:
            if connection.session is not None and not resumable:
                connection.session.invalidated = True
            connection.closing = True
            await connection.send({"op": INVALID_SESSION, "d": resumable})

    async def close(self, code: int = 4000) -> None:
        for connection in self.live:
            connection.closing = True
            await connection.ws.close(code=code, message=b"closed by the double")

    # -- the socket ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws=ws, request=request, path=request.path)
        self.connections.append(connection)
        writer = asyncio.create_task(self._writer(connection))
        try:
            await connection.send(
                {
                    "op": HELLO,
                    "d": {
                        "heartbeat_interval": int(self.heartbeat_interval * 1000),
                        "_trace": ["double"],
                    },
                }
            )
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    break
                frame = json.loads(message.data)
                self.received.append(frame)
                if not connection.closing:
                    await self._on_frame(connection, frame)
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("gateway connection ended: %r", exc)
        finally:
            connection.closed_at = time.monotonic()
            writer.cancel()
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                if ws.close_code in (1000, 1001) and not connection.closing:
                    session.invalidated = True  # a clean close ends the session for good
        return ws

    async def _writer(self, connection: Connection) -> None:
        """Send the session's buffered dispatches past what this connection already sent."""
        while True:
            await connection.wake.wait()
            connection.wake.clear()
            session = connection.session
            while session is not None and not connection.closing and session.buffer:
                first = session.buffer[0].seq
                index = max(connection.sent_upto + 1 - first, 0)
                if index >= len(session.buffer):
                    break
                entry = session.buffer[index]
                connection.sent_upto = entry.seq
                if entry.replayable or entry.seq > connection.skip_upto:
                    try:
                        await connection.send(entry.text)
                    except (ConnectionResetError, RuntimeError):
                        return

    async def _on_frame(self, connection: Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            connection.heartbeats += 1
            if self.ack_heartbeats:
                await connection.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(connection, data)
        elif op == RESUME:
            await self._resume(connection, data)
        elif op == REQUEST_MEMBERS and connection.session is not None:
            guild = self.world.guilds.get(int(data["guild_id"]))
            if guild is not None:
                connection.session.push(
                    "GUILD_MEMBERS_CHUNK",
                    {
                        "guild_id": str(guild.id),
                        "chunk_index": 0,
                        "chunk_count": 1,
                        "members": [m.payload() for m in guild.members.values()],
                        "nonce": data.get("nonce"),
                    },
                )

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        refusal = None
        if data.get("token") != self.world.token:
            refusal = 4004, b"Authentication failed."
        elif connection.session is not None:
            refusal = 4005, b"Already authenticated."
        if refusal is not None:
            connection.closing = True
            await connection.ws.close(code=refusal[0], message=refusal[1])
            return
        session = Session(
            id=uuid.uuid4().hex, intents=int(data.get("intents", 0)), shard=data.get("shard")
        )
        self.sessions[session.id] = session
        self.identifies.append({"session_id": session.id, "at": time.monotonic(), **data})
        connection.session, session.connection = session, connection
        world = self.world
        guilds = [g for g in world.guilds.values() if world.bot.id in g.members]
        ready = {
            "v": 10,
            "user": {**world.bot.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "application": {"id": str(world.application_id), "flags": self.application_flags},
            "_trace": ["double"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        session.push("READY", ready, replayable=False)
        if session.intents & GUILDS:
            for guild in guilds:
                session.push("GUILD_CREATE", guild.payload())

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id", ""))
        client_seq = data.get("seq")
        first = session.buffer[0].seq if session and session.buffer else 1
        refused = self.refuse_next_resume
        self.refuse_next_resume = False
        ok = (
            session is not None
            and not session.invalidated
            and not refused
            and data.get("token") == self.world.token
            and (client_seq or 0) + 1 >= first
        )
        record = ResumeRecord(data.get("session_id", ""), client_seq, ok, connection.path)
        self.resumes.append(record)
        if not ok or session is None:
            connection.closing = True
            await connection.send({"op": INVALID_SESSION, "d": False})
            return
        old = session.connection
        if old is not None and old is not connection:
            old.closing = True
            await old.ws.close(code=4000)
        record.replayed = [
            (e.seq, e.event) for e in session.buffer if e.seq > (client_seq or 0) and e.replayable
        ]
        connection.session, session.connection = session, connection
        connection.sent_upto = client_seq or 0
        connection.skip_upto = session.seq
        session.push("RESUMED", {"_trace": ["double"]}, replayable=False)

"""The SQL unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.db.engine import read_only_engine
from bot.adapters.db.errors import session_url, storage_errors
from bot.adapters.db.repositories import (
    SqlActionRepository,
    SqlAlertRepository,
    SqlCertWatchRepository,
    SqlGuildRepository,
    SqlHeartbeatRepository,
    SqlIncidentRepository,
    SqlMetaRepository,
    SqlNoteRepository,
    SqlOutboxRepository,
    SqlPageRepository,
    SqlReminderRepository,
    SqlStatusPageRepository,
    SqlTimelineRepository,
    SqlWebhookRepository,
)
from bot.core.ports import (
    ActionRepository,
    AlertRepository,
    CertWatchRepository,
    Clock,
    GuildRepository,
    HeartbeatRepository,
    IncidentRepository,
    MetaRepository,
    NoteRepository,
    OutboxRepository,
    PageRepository,
    ReminderRepository,
    StatusPageRepository,
    TimelineRepository,
    WebhookRepository,
)

log = logging.getLogger(__name__)


class SqlUnitOfWork:
    """`async with SqlUnitOfWork(sessions) as uow: …; await uow.commit()`.

    Entering opens a session and begins the transaction (so an unreachable database fails
    here, as StorageUnavailableError); leaving rolls back whatever was not committed. After
    a ConflictError from a repository the transaction is spoiled: let it propagate, or roll
    back before doing anything else. `commit()` may be called more than once; each later
    statement runs in a fresh transaction. `on_commit` is called after each successful
    commit, so in-process consumers of the outbox need not poll.
    """

    guilds: GuildRepository
    incidents: IncidentRepository
    timeline: TimelineRepository
    actions: ActionRepository
    notes: NoteRepository
    alerts: AlertRepository
    webhooks: WebhookRepository
    meta: MetaRepository
    outbox: OutboxRepository
    reminders: ReminderRepository
    statuspage: StatusPageRepository
    pages: PageRepository
    heartbeats: HeartbeatRepository
    cert_watches: CertWatchRepository

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock | None = None,
        on_commit: Callable[[], None] | None = None,
        read_only: bool = False,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._on_commit = on_commit
        self._read_only = read_only
        self._session: AsyncSession | None = None

    @property
    def read_only(self) -> bool:
        """Whether this unit of work only reads (see `reading`)."""
        return self._read_only

    def reading(self) -> SqlUnitOfWork:
        """A read-only unit of work over the same storage, for lookups.

        It reads one consistent snapshot without taking SQLite's write lock (a deferred
        `BEGIN` instead of `BEGIN IMMEDIATE`, so it never waits behind the webhook writer);
        on PostgreSQL the transaction is `READ ONLY`. It cannot commit: `commit()` raises.
        """
        return SqlUnitOfWork(self._sessions, clock=self._clock, read_only=True)

    @property
    def session(self) -> AsyncSession:
        """The session of the open unit of work (for adapters that need one more query)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        """Open a session, connect and begin; build the repositories on it."""
        if self._read_only:
            bind = self._sessions.kw["bind"]
            session = self._sessions(bind=read_only_engine(bind))
        else:
            session = self._sessions()
        try:
            with storage_errors(session_url(session), connecting=True):
                await session.connection()
        except BaseException:
            await _quietly_close(session)
            raise
        self._session = session
        self.guilds = SqlGuildRepository(session)
        self.incidents = SqlIncidentRepository(session)
        self.timeline = SqlTimelineRepository(session)
        self.actions = SqlActionRepository(session)
        self.notes = SqlNoteRepository(session)
        self.alerts = SqlAlertRepository(session)
        self.webhooks = SqlWebhookRepository(session)
        self.meta = SqlMetaRepository(session)
        self.outbox = SqlOutboxRepository(session, self._clock)
        self.reminders = SqlReminderRepository(session)
        self.statuspage = SqlStatusPageRepository(session)
        self.pages = SqlPageRepository(session)
        self.heartbeats = SqlHeartbeatRepository(session)
        self.cert_watches = SqlCertWatchRepository(session)
        return self

    async def commit(self) -> None:
        """Make everything done so far visible to others, at once."""
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        with storage_errors(session_url(self.session)):
            await self.session.commit()
        if self._on_commit is not None:
            self._on_commit()  # e.g. wake the Discord relay: new outbox events are visible

    async def rollback(self) -> None:
        """Forget everything done since the last commit."""
        with storage_errors(session_url(self.session)):
            await self.session.rollback()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and give the connection back."""
        session, self._session = self._session, None
        if session is not None:
            await _quietly_close(session)


async def _quietly_close(session: AsyncSession) -> None:
    """Roll back and close; a dead connection must not hide the error that got us here."""
    try:
        await session.rollback()
    except Exception:
        log.warning("rollback failed while closing a unit of work", exc_info=True)
    try:
        await session.close()
    except Exception:
        log.warning("closing a database session failed", exc_info=True)

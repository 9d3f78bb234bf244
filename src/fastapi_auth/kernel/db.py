"""The engine, and the unit of work: a session that commits once, at its end.

How requests use it (see ARCHITECTURE.md, "Transactions"): a route that writes gets the
request's session (`SessionDep`), committed after the handler returns, or rolled back
when it raises (but for a `DomainError` with `commit_changes`, whose refusal itself
must last). The named exceptions, each for a measured reason:

- `Database.side_read`: a read in a short transaction of its own, for a value the
  request goes on to use only through conditional statements (login reads the account
  before the password check, so the request's connection is not held across a hash);
- `fast_path.FastPath.on_driver`: the access check, and a refresh's rotation, as one
  statement in autocommit on the driver's own connection (a read-only route such as
  `GET /users/me` opens no transaction at all);
- a refresh that did not rotate opens its own unit of work (`TokenRotation`);
- the email dispatcher and the CLI open their own, one per batch.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import column, event, select, table, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from fastapi_auth.kernel.errors import DomainError
from fastapi_auth.kernel.settings import Settings

OUTBOX_TOUCHED = "outbox_touched"
ACCOUNT_EVENTS = "fastapi_auth.account_events"
"""Where a session collects the account events its transaction announces (`hooks.py`)."""
IDLE_PING_SECONDS = 10.0
SQLITE_CONNECTIONS = 5


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


UNDEFINED_TABLE = "42P01"
"""PostgreSQL's SQLSTATE for a table that does not exist."""


def is_missing_table(error: BaseException) -> bool:
    """A statement failed because its table does not exist: the schema was never
    migrated (or is behind), which no retry fixes until someone upgrades it."""
    if not isinstance(error, DBAPIError):
        return False
    cause = error.orig
    if getattr(cause, "sqlstate", None) == UNDEFINED_TABLE:
        return True
    return isinstance(cause, sqlite3.OperationalError) and "no such table" in str(cause)


def tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the one writer; busy_timeout makes writers queue, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _reset_sqlite(dbapi_connection: Any, _record: Any, reset: PoolResetState) -> None:
    """Rolls back a returned connection only when it has a transaction open: the default
    reset rolls back every one, and through aiosqlite each rollback is a thread hop."""
    if reset.terminate_only or not reset.asyncio_safe:
        return
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _begin_before_a_first_savepoint(connection: Connection, _name: str) -> None:
    """Python's sqlite3 begins a transaction only before the first INSERT, UPDATE or
    DELETE, so a SAVEPOINT that comes first opens the transaction itself, and releasing
    it commits, whatever the transaction around it does next. Beginning explicitly first
    makes it the nested savepoint it is meant to be (the lock is still taken at the first
    write, as for every other transaction)."""
    if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN")


def build_engine(settings: Settings, sqlite_connections: int = SQLITE_CONNECTIONS) -> AsyncEngine:
    """`hide_parameters`: a database error's text (logged with a 500) never shows the
    statement's values, which may be an address, an IP or a hash."""
    url = settings.database_url
    # Every connection is kept once opened (no "overflow"): an overflow connection is closed
    # whenever it comes back to a full pool, and under asyncio many come back at once, so a
    # busy worker kept reconnecting (on PostgreSQL a TLS handshake and a server process each
    # time, on SQLite a thread).
    if is_sqlite(url):
        # One writer at a time anyway, and each connection is a thread: a handful serves
        # best (benchmarks/README.md, "What the profile showed"). A file always
        # (`Settings` refuses an in-memory database: each connection would get its own).
        engine = create_async_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": 30},
            pool_reset_on_return=None,
            pool_size=sqlite_connections,
            max_overflow=0,
        )
        event.listen(engine.sync_engine, "connect", tune_sqlite)
        event.listen(engine.sync_engine, "reset", _reset_sqlite)
        event.listen(engine.sync_engine, "savepoint", _begin_before_a_first_savepoint)
        return engine
    engine = create_async_engine(
        url,
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_connect_timeout_seconds,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": 30,
        },
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """`pool_pre_ping` would cost every request a round trip (three on asyncpg, which wraps
    the ping in a transaction). A connection that was in use moments ago is alive unless the
    server went away in between, and then the request that finds out invalidates the whole
    pool; so only a connection idle for longer than `IDLE_PING_SECONDS` is pinged first."""

    @event.listens_for(engine.sync_engine, "checkin")
    def mark_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise InvalidatePoolError(str(error)) from error


class Database:
    """Owns the engine; hands out sessions that commit once, at the end of a unit of work."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = build_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = is_sqlite(settings.database_url)
        self._on_outbox_commit: list[Callable[[], None]] = []
        self.deliver_account_events: Callable[[list[Any]], None] | None = None
        """Set by `main.py` to the host's hooks, given each committed transaction's events."""

    def on_outbox_commit(self, callback: Callable[[], None]) -> None:
        """Let the email dispatcher wake as soon as a transaction that queued mail commits."""
        self._on_outbox_commit.append(callback)

    def notify_outbox(self) -> None:
        for callback in self._on_outbox_commit:
            callback()

    async def ping(self, within_seconds: float = 3.0) -> None:
        async with asyncio.timeout(within_seconds), self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def current_revision(self, version_table: str, within_seconds: float = 3.0) -> str | None:
        """The revision Alembic recorded in `version_table`, or None when there is none
        (the table missing, as on a database never migrated). Its own connection, outside
        any unit of work, so a missing table aborts no transaction that matters."""
        versions = table(version_table, column("version_num"))
        async with asyncio.timeout(within_seconds), self.engine.connect() as connection:
            try:
                result = await connection.execute(select(versions.c.version_num))
            except DBAPIError as error:
                if is_missing_table(error):
                    return None
                raise
            return result.scalar()

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit when the block ends, roll back if it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except DomainError as error:
                if not error.commit_changes:
                    await session.rollback()
                    raise
                await session.commit()
                self._committed(session)
                raise
            except BaseException:
                await session.rollback()
                raise
        self._committed(session)

    def _committed(self, session: AsyncSession) -> None:
        if session.info.pop(OUTBOX_TOUCHED, False):
            self.notify_outbox()
        events = session.info.pop(ACCOUNT_EVENTS, None)
        if events and self.deliver_account_events is not None:
            self.deliver_account_events(events)

    @asynccontextmanager
    async def side_read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only transaction beside the request's, whose objects outlive it
        (detached). What the request then writes must not trust them: it is conditional
        on what they were read at (a security stamp, a hash)."""
        async with self.sessionmaker() as reader:
            yield reader
            reader.expunge_all()

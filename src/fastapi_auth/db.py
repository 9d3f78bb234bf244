"""Engine, sessions and the one-transaction-per-request dependency."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Insert, Select, Update, event, text
from sqlalchemy.engine import URL, Connection, Dialect
from sqlalchemy.exc import InvalidatePoolError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState
from sqlalchemy.util import greenlet_spawn

from fastapi_auth.errors import DomainError
from fastapi_auth.settings import Settings

OUTBOX_TOUCHED = "outbox_touched"
IDLE_PING_SECONDS = 10.0
SQLITE_CONNECTIONS = 5
SQLITE_READERS = 3
DRIVERS = ("asyncpg", "aiosqlite")
T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
Statement = Select[*tuple[Any, ...]] | Update | Insert


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
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
        # best (measured: 5 beat 20 by a quarter on `GET /users/me`). A file always
        # (`Settings` refuses an in-memory database: each connection would get its own).
        engine = create_async_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": 30},
            pool_reset_on_return=None,
            pool_size=sqlite_connections,
            max_overflow=0,
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
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


class Statements(Protocol):
    """Runs prepared Core statements on one connection; rows come back as dicts of Python
    values, converted by the columns' own SQLAlchemy types."""

    async def one(self, statement: Statement, **values: Any) -> dict[str, Any] | None: ...

    async def all(self, statement: Statement, **values: Any) -> list[dict[str, Any]]: ...


class DriverStatement:
    """A Core statement compiled once for the dialect, with its parameters' and columns'
    type processors, so it can run on the driver's own connection."""

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.parameters = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]
        self.columns = [
            (str(column.key), column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in statement.exported_columns
        ]

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        return [
            values[name] if convert is None else convert(values[name])
            for name, convert in self.parameters
        ]

    def row(self, raw: Any) -> dict[str, Any]:
        return {
            key: value if convert is None else convert(value)
            for (key, convert), value in zip(self.columns, raw, strict=True)
        }


class _DriverFailed(Exception):
    """The driver itself raised: the connection is suspect."""


class _DriverStatements:
    """`Statements` on asyncpg's or aiosqlite's connection, under a pooled SQLAlchemy one."""

    def __init__(self, database: Database, driver: str, connection: Any) -> None:
        self._database, self._driver, self._connection = database, driver, connection

    async def one(self, statement: Statement, **values: Any) -> dict[str, Any] | None:
        rows = await self.all(statement, **values)
        return rows[0] if rows else None

    async def all(self, statement: Statement, **values: Any) -> list[dict[str, Any]]:
        prepared = self._database.prepared(statement)
        arguments = prepared.arguments(values)
        try:
            if self._driver == "asyncpg":
                rows = await self._connection.fetch(prepared.sql, *arguments)
            else:
                rows = await self._connection.execute_fetchall(prepared.sql, arguments)
        except Exception as error:
            raise _DriverFailed() from error
        return [prepared.row(raw) for raw in rows]


class _CoreStatements:
    """`Statements` through SQLAlchemy Core: for other drivers, and the second attempt."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def one(self, statement: Statement, **values: Any) -> dict[str, Any] | None:
        row = (await self._connection.execute(statement, values)).first()
        return None if row is None else dict(row._mapping)

    async def all(self, statement: Statement, **values: Any) -> list[dict[str, Any]]:
        result = await self._connection.execute(statement, values)
        return [dict(row._mapping) for row in result]


class Coalesced(Generic[A, R]):
    """Calls made in the same turn of the event loop, run together as one batch.

    Under load many requests reach the same step in one turn (each connection's request
    runs up to its first await before the next turn begins); one query for all of them
    costs the database, the pool and the driver one round trip instead of one each. A
    call joins only a batch that has not been sent yet, so whatever committed before it
    was made is seen, exactly as if it had run alone, and no answer is ever reused. The
    batch answers each call in its place (`run_batch` returns one result per argument,
    in order); a failed batch fails every call in it.
    """

    def __init__(
        self,
        run_batch: Callable[[list[A]], Awaitable[list[R]]],
        max_batch: int = 256,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._waiting: list[tuple[A, asyncio.Future[R]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def call(self, argument: A) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)
        self._waiting.append((argument, future))
        return await future

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), self._max_batch):
            task = asyncio.ensure_future(self._answer(waiting[start : start + self._max_batch]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _answer(self, waiting: list[tuple[A, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run_batch([argument for argument, _ in waiting])
            if len(results) != len(waiting):
                raise RuntimeError(f"{len(results)} answers for {len(waiting)} calls")
        except BaseException as error:
            for _, future in waiting:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), result in zip(waiting, results, strict=True):
            if not future.done():
                future.set_result(result)


class SQLiteStatements:
    """`Statements` for work that runs whole on `SQLiteWriter`'s thread: the same prepared
    statements, called without awaiting."""

    def __init__(self, database: Database, connection: sqlite3.Connection) -> None:
        self._database, self._connection = database, connection

    def one(self, statement: Statement, **values: Any) -> dict[str, Any] | None:
        prepared = self._database.prepared(statement)
        raw = self._connection.execute(prepared.sql, prepared.arguments(values)).fetchone()
        return None if raw is None else prepared.row(raw)

    def run(self, statement: Statement, **values: Any) -> None:
        prepared = self._database.prepared(statement)
        self._connection.execute(prepared.sql, prepared.arguments(values))


class SQLiteWriter:
    """One SQLite connection on a thread of its own, for the transactions on the hot path.

    Through aiosqlite every statement, and the commit, is a trip from the event loop to a
    connection's thread and back: a refresh took four, most of its cost. Here a whole
    transaction is one trip, and with `Coalesced` one transaction serves every request
    that asked in the same turn (group commit). Being the only connection that writes
    this way, it never waits for the write lock behind itself; behind the pool's
    connections it waits as they do (`busy_timeout`).
    """

    def __init__(self, database: Database, path: str) -> None:
        self._database, self._path = database, path
        self._thread: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        """Opened, used and closed on the writer's thread only."""

    async def transaction(self, work: Callable[[SQLiteStatements], T]) -> T:
        """Runs `work` in one immediate transaction, committed if it returns; a failure of
        the database answers 503 like any other (`OperationalError`)."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, work)

    def _run(self, work: Callable[[SQLiteStatements], T]) -> T:
        try:
            connection = self._connection or self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(SQLiteStatements(self._database, connection))
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
            return result
        except sqlite3.Error as error:
            raise OperationalError("sqlite writer", None, error) from error

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path, timeout=30, isolation_level=None, check_same_thread=False
        )
        _tune_sqlite(connection, None)
        self._connection = connection
        return connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._close)
            thread.shutdown()


class Database:
    """Owns the engine; hands out sessions that commit once, at the end of a unit of work."""

    def __init__(self, settings: Settings) -> None:
        self.engine = build_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = is_sqlite(settings.database_url)
        self.reader = build_engine(settings, SQLITE_READERS) if self.is_sqlite else self.engine
        """For `on_driver`'s reads (the access check). On SQLite they get
        connections of their own: a writer waiting for SQLite's one write lock holds its
        pooled connection meanwhile, and a queue of them (a burst of logins) would
        otherwise keep every authenticated request waiting for a connection."""
        self.sqlite_writer = (
            SQLiteWriter(self, settings.database_url.database or "") if self.is_sqlite else None
        )
        self._on_outbox_commit: list[Callable[[], None]] = []
        self._prepared: dict[Statement, DriverStatement] = {}
        """By the statement object itself (statements hash by identity): only module-level
        statements run here, compiled once each."""

    def on_outbox_commit(self, callback: Callable[[], None]) -> None:
        """Let the email dispatcher wake as soon as a transaction that queued mail commits."""
        self._on_outbox_commit.append(callback)

    def notify_outbox(self) -> None:
        for callback in self._on_outbox_commit:
            callback()

    async def ping(self, within_seconds: float = 3.0) -> None:
        async with asyncio.timeout(within_seconds), self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self.sqlite_writer is not None:
            await self.sqlite_writer.close()
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()

    def prepared(self, statement: Statement) -> DriverStatement:
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = DriverStatement(statement, self.engine.dialect)
        return prepared

    async def on_driver(
        self,
        work: Callable[[Statements], Awaitable[T]],
        *,
        read_only: bool = False,
    ) -> T:
        """Runs `work` on one pooled connection's driver (asyncpg, aiosqlite) in autocommit:
        reads, or on PostgreSQL a single statement (SQLite's driver would leave a write's
        transaction open; SQLite's writes go to `SQLiteWriter`).

        For the few statements on every request's path: through an ORM session each cost
        several times what the database needs, nearly all of it SQLAlchemy's execution
        machinery (see benchmarks/README.md). The statements are module-level Core ones
        (compiled once, see `prepared`). If the driver itself fails, the connection is
        dropped; `read_only` work then runs again through SQLAlchemy, whose errors (and
        pool invalidation) the app already answers with 503, and writes (which may or may
        not have committed) are answered with 503 at once.
        """
        engine = self.reader if read_only else self.engine
        driver = engine.dialect.driver
        if driver in DRIVERS:
            # The pool's own connection, not an `AsyncConnection` around it: that wrapper
            # cost more than the query. Pool calls that may await run in a greenlet.
            try:
                pooled = await engine.raw_connection()
            except SQLAlchemyError:
                raise
            except Exception as error:  # the driver's own, untranslated: no database
                raise OperationalError("connect", None, error) from error
            statements = _DriverStatements(self, driver, pooled.driver_connection)
            suspect: BaseException | None = None
            try:
                return await work(statements)
            except _DriverFailed as failure:
                suspect = failure.__cause__ or failure
                if not read_only:
                    raise OperationalError("on_driver", None, suspect) from suspect
            except asyncio.CancelledError as cancelled:
                suspect = cancelled  # cut off mid-statement: the connection's state is unknown
                raise
            finally:
                if suspect is not None:
                    await greenlet_spawn(pooled.invalidate, suspect)
                await greenlet_spawn(pooled.close)
        async with engine.connect() as connection:
            return await work(_CoreStatements(connection))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit when the block ends, roll back if it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except DomainError as error:
                await (session.commit() if error.commit_changes else session.rollback())
                raise
            except BaseException:
                await session.rollback()
                raise
        if session.info.pop(OUTBOX_TOUCHED, False):
            self.notify_outbox()


def get_database(request: Request) -> Database:
    database: Database = request.app.state.fastapi_auth.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

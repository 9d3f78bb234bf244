"""The driver fast path: the few statements on every request's path, run on the
driver's own connection instead of through an ORM session.

Through a session each cost several times what the database needs, nearly all of it
SQLAlchemy's execution machinery (benchmarks/README.md, "What the profile showed"). The
statements are module-level Core ones, compiled once (`FastPath.prepared`). On SQLite,
the writes among them run whole on one thread of their own (`SQLiteWriter`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import greenlet_spawn

from fastapi_auth.kernel.db import Database, build_engine, tune_sqlite

SQLITE_READERS = 3
DRIVERS = ("asyncpg", "aiosqlite")
T = TypeVar("T")
Statement = Select[*tuple[Any, ...]] | Update | Insert


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

    def __init__(self, fast_path: FastPath, driver: str, connection: Any) -> None:
        self._fast_path, self._driver, self._connection = fast_path, driver, connection

    async def one(self, statement: Statement, **values: Any) -> dict[str, Any] | None:
        rows = await self.all(statement, **values)
        return rows[0] if rows else None

    async def all(self, statement: Statement, **values: Any) -> list[dict[str, Any]]:
        prepared = self._fast_path.prepared(statement)
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


class SQLiteStatements:
    """`Statements` for work that runs whole on `SQLiteWriter`'s thread: the same prepared
    statements, called without awaiting."""

    def __init__(self, fast_path: FastPath, connection: sqlite3.Connection) -> None:
        self._fast_path, self._connection = fast_path, connection

    def one(self, statement: Statement, **values: Any) -> dict[str, Any] | None:
        prepared = self._fast_path.prepared(statement)
        raw = self._connection.execute(prepared.sql, prepared.arguments(values)).fetchone()
        return None if raw is None else prepared.row(raw)

    def run(self, statement: Statement, **values: Any) -> None:
        prepared = self._fast_path.prepared(statement)
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

    def __init__(self, fast_path: FastPath, path: str) -> None:
        self._fast_path, self._path = fast_path, path
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
                result = work(SQLiteStatements(self._fast_path, connection))
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
        tune_sqlite(connection, None)
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


class FastPath:
    """`on_driver` for the hot path's reads and PostgreSQL's single-statement writes, and
    on SQLite the writer thread for its writes."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.is_sqlite = database.is_sqlite
        settings = database.settings
        self.reader = build_engine(settings, SQLITE_READERS) if self.is_sqlite else database.engine
        """For `on_driver`'s reads (the access check). On SQLite they get
        connections of their own: a writer waiting for SQLite's one write lock holds its
        pooled connection meanwhile, and a queue of them (a burst of logins) would
        otherwise keep every authenticated request waiting for a connection."""
        self.sqlite_writer = (
            SQLiteWriter(self, settings.database_url.database or "") if self.is_sqlite else None
        )
        self._prepared: dict[Statement, DriverStatement] = {}
        """By the statement object itself (statements hash by identity): only module-level
        statements run here, compiled once each."""

    async def dispose(self) -> None:
        if self.sqlite_writer is not None:
            await self.sqlite_writer.close()
        if self.reader is not self.database.engine:
            await self.reader.dispose()

    def prepared(self, statement: Statement) -> DriverStatement:
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = DriverStatement(
                statement, self.database.engine.dialect
            )
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
        engine = self.reader if read_only else self.database.engine
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

"""Engine, sessions and the one-transaction-per-request dependency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from fastapi_auth.errors import DomainError
from fastapi_auth.settings import Settings

OUTBOX_TOUCHED = "outbox_touched"


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


def build_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_timeout=settings.db_connect_timeout_seconds,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": 30,
        },
    )


class Database:
    """Owns the engine; hands out sessions that commit once, at the end of a unit of work."""

    def __init__(self, settings: Settings) -> None:
        self.engine = build_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = is_sqlite(settings.database_url)
        self._on_outbox_commit: list[Callable[[], None]] = []

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
        await self.engine.dispose()

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

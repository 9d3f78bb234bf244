"""An app of the test's choosing on the email tests' own database, and a look at its outbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, select

from fastapi_auth import Settings, create_app
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.models import OutboxEmail
from tests.conftest import settings_for
from tests.services import TestDatabase

HANG_GUARD_SECONDS = 30
"""Not a timing assertion: only so that a hang fails instead of stalling the run."""


def email_settings(database: TestDatabase, port: int, **overrides: Any) -> Settings:
    """Quick retries and cheap password hashing: these tests are about mail, not about time."""
    return settings_for(
        database.url,
        port,
        **{
            "email_retry_base_seconds": 0.05,
            "email_retry_max_seconds": 0.2,
            "argon2_memory_kib": 8192,
            "argon2_time_cost": 1,
            **overrides,
        },
    )


@contextlib.asynccontextmanager
async def email_app(database: TestDatabase, port: int, **overrides: Any) -> AsyncIterator[FastAPI]:
    application = create_app(email_settings(database, port, **overrides))
    async with LifespanManager(application):
        yield application


class Outbox:
    """Reads the outbox table directly, as an operator would."""

    def __init__(self, database: TestDatabase) -> None:
        self.database = Database(Settings(_env_file=None, db_url=database.url))

    async def rows(self, recipient: str | None = None) -> list[OutboxEmail]:
        statement = select(OutboxEmail).order_by(OutboxEmail.created_at)
        if recipient is not None:
            statement = statement.where(OutboxEmail.recipient == recipient)
        async with self.database.transaction() as session:
            return list((await session.scalars(statement)).all())

    async def one(self, recipient: str) -> OutboxEmail:
        rows = await self.rows(recipient)
        assert len(rows) == 1, rows
        return rows[0]

    async def wait_until(
        self,
        condition: Callable[[list[OutboxEmail]], bool],
        recipient: str | None = None,
        within_seconds: float = HANG_GUARD_SECONDS,
    ) -> list[OutboxEmail]:
        """The rows (to `recipient`, or all), once `condition` holds for them."""
        async with asyncio.timeout(within_seconds):
            while True:
                rows = await self.rows(recipient)
                if condition(rows):
                    return rows
                await asyncio.sleep(0.05)

    async def clear(self) -> None:
        async with self.database.transaction() as session:
            await session.execute(delete(OutboxEmail))

    async def dispose(self) -> None:
        await self.database.dispose()


def all_in(status: str) -> Callable[[list[OutboxEmail]], bool]:
    return lambda rows: bool(rows) and all(row.status == status for row in rows)

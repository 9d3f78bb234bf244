"""The host's Alembic and the package's share one database and never meet: each keeps
its own version table, so either runs before or after the other."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from examples.notes.migrations import upgrade_notes
from tests.services import TestDatabase, migrate


async def versions(url: str, table: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text(f"SELECT version_num FROM {table}"))  # noqa: S608
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def test_both_histories_upgrade_in_either_order(
    notes_app: FastAPI, database: TestDatabase
) -> None:
    """`notes_app` ran the host's migrations after the package's; now the other way."""
    await asyncio.to_thread(migrate, database.url)
    await asyncio.to_thread(upgrade_notes, database.url)
    assert await versions(database.url, "alembic_version") == ["notes_0001"]
    [ours] = await versions(database.url, "fastapi_auth_alembic_version")
    assert ours.startswith("0")

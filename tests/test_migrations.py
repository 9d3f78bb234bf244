"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_auth.kernel.models import Base
from fastapi_auth.migrations.config import VERSION_TABLE, alembic_config
from tests.services import TestDatabase, create_database, drop_database, migrate


def _ours(name: str | None, type_: str, _parent: Any) -> bool:
    """Only this package's tables: a host's (the example app's, made by other tests in
    this database) are not the migrations' to describe."""
    return type_ != "table" or name in Base.metadata.tables


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "version_table": VERSION_TABLE, "include_name": _ours},
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_autogenerate_finds_no_difference(database: TestDatabase) -> None:
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_downgrade_and_upgrade_round_trip(database: TestDatabase, tmp_path: Path) -> None:
    scratch = await create_database(database.backend, tmp_path)
    await asyncio.to_thread(migrate, scratch.url)
    config = alembic_config(database_url=scratch.url)
    engine = create_async_engine(scratch.url)
    try:
        await asyncio.to_thread(command.downgrade, config, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) <= {VERSION_TABLE}
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as connection:
            assert set(Base.metadata.tables) <= await connection.run_sync(_tables)
    finally:
        await engine.dispose()
        await drop_database(scratch)

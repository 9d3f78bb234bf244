"""Databases of these tests' own (each starts empty), a host app's Alembic beside ours,
and plain SQL to look at (or fake) what earlier releases left behind."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_auth import Settings
from tests.conftest import settings_for
from tests.services import TestDatabase

HOST_MIGRATIONS = Path(__file__).parent / "host_migrations"


def settings_of(database: TestDatabase) -> Settings:
    return settings_for(database.url, 1, email_dispatcher_enabled=False)


def host_config(database: TestDatabase) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HOST_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.url)
    return config


def host_upgrade(database: TestDatabase) -> None:
    """From a worker thread, like every Alembic command here."""
    command.upgrade(host_config(database), "head")


async def execute(database: TestDatabase, *statements: str) -> None:
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def versions(database: TestDatabase, table: str) -> list[str] | None:
    """The revisions `table` holds, sorted; None when it does not exist."""
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            if table not in tables:
                return None
            rows = await connection.execute(text(f"SELECT version_num FROM {table}"))  # noqa: S608
            return sorted(revision for (revision,) in rows)
    finally:
        await engine.dispose()


async def tables(database: TestDatabase) -> set[str]:
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def as_an_earlier_release_left_it(database: TestDatabase, *host_rows: str) -> None:
    """Moves our revision back to Alembic's default table, beside any of the host's, as
    a database migrated by a release before our own version table looks."""
    [revision] = await versions(database, "fastapi_auth_alembic_version") or [""]
    rows = [revision, *host_rows]
    await execute(
        database,
        "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
        *(f"INSERT INTO alembic_version (version_num) VALUES ('{row}')" for row in rows),  # noqa: S608
        "DROP TABLE fastapi_auth_alembic_version",
    )

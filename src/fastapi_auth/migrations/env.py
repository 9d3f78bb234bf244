"""Alembic environment: async engines, one metadata, batch mode on SQLite, a version table
of our own, and the whole run in one transaction that concurrent upgrades queue on."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_auth.kernel.models import Base
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.migrations.config import (
    APPLIED,
    LEGACY_VERSION_TABLE,
    MIGRATION_LOCK_KEY,
    VERSION_TABLE,
)

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    return Settings().database_url.render_as_string(hide_password=False)


def record_applied(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    applied = config.attributes.get(APPLIED)
    if applied is None:
        return
    # The revision a step applied, or (downgrading) the one it reverted.
    applied.extend(step.up_revision_ids)


def version_table(name: str) -> Table:
    """Alembic's own shape for a version table (it creates ours itself on a fresh
    database; this is for moving an old revision into it)."""
    return Table(
        name,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{name}_pkc"),
    )


def adopt_legacy_version(connection: Connection) -> None:
    """Releases before our own version table recorded their revision in Alembic's default
    `alembic_version`, where a host app's Alembic then finds a revision it cannot locate.
    Our row moves to our table; a host's rows stay, and the table is dropped only when it
    held nothing but ours. Runs in the migration's transaction, so a failed upgrade
    leaves the old table as it was."""
    inspector = inspect(connection)
    if inspector.has_table(VERSION_TABLE) or not inspector.has_table(LEGACY_VERSION_TABLE):
        return
    ours = {script.revision for script in context.script.walk_revisions()}
    legacy = version_table(LEGACY_VERSION_TABLE)
    found = [row for (row,) in connection.execute(legacy.select())]
    adopted = [revision for revision in found if revision in ours]
    if not adopted:
        return
    table = version_table(VERSION_TABLE)
    table.create(connection)
    connection.execute(table.insert(), [{"version_num": revision} for revision in adopted])
    connection.execute(legacy.delete().where(legacy.c.version_num.in_(adopted)))
    if len(adopted) == len(found):
        legacy.drop(connection)


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    with connection.begin():
        if sqlite:
            # The driver would begin only before the first INSERT, leaving the DDL before
            # it outside any transaction; IMMEDIATE also queues a concurrent upgrade.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": MIGRATION_LOCK_KEY})
        adopt_legacy_version(connection)
        # Configured inside the transaction, Alembic runs every migration in it (it
        # begins none of its own), and the commit is this block's.
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            render_as_batch=sqlite,
            compare_type=True,
            on_version_apply=record_applied,
        )
        with context.begin_transaction():
            context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_async_migrations())

"""Migrating from code: a host app upgrades the schema at start, a script or the CLI
from a plain function. Every instance may do it at once: on PostgreSQL the upgrades
queue on an advisory lock (env.py), so the later ones find nothing left to apply."""

from __future__ import annotations

import asyncio
import threading

from fastapi_auth.kernel.settings import Settings
from fastapi_auth.migrations.config import APPLIED, alembic_config, script_head

__all__ = [
    "downgrade_database_sync",
    "script_head",
    "upgrade_database",
    "upgrade_database_sync",
]

_ALEMBIC = threading.Lock()
"""Alembic keeps the running environment in a module global (`alembic.context`), so two
commands at once in one process would tear it down under each other; these queue here,
and other processes on the database's own lock (env.py)."""


def upgrade_database_sync(settings: Settings, revision: str = "head") -> list[str]:
    """For scripts and the CLI. Not from a running event loop: Alembic's env.py runs
    one of its own (`upgrade_database` is the async twin)."""
    # Imported here: a server that never migrates spares the memory (alembic and mako).
    from alembic import command

    config = alembic_config(settings)
    applied: list[str] = []
    config.attributes[APPLIED] = applied
    with _ALEMBIC:
        command.upgrade(config, revision)
    return applied


async def upgrade_database(settings: Settings, revision: str = "head") -> list[str]:
    """The revisions applied, in order (none when the schema was already there). In a
    worker thread: Alembic's env.py calls `asyncio.run`, and a migration may take a
    while without holding up the loop."""
    return await asyncio.to_thread(upgrade_database_sync, settings, revision)


def downgrade_database_sync(settings: Settings, revision: str) -> list[str]:
    """The revisions reverted, newest first."""
    from alembic import command

    config = alembic_config(settings)
    reverted: list[str] = []
    config.attributes[APPLIED] = reverted
    with _ALEMBIC:
        command.downgrade(config, revision)
    return reverted

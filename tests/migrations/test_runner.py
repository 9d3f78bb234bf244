"""`upgrade_database` from a host app's start: what it applied, nothing the second time,
and instances that start at once all succeed, the later ones applying nothing."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from fastapi_auth import upgrade_database, upgrade_database_sync
from fastapi_auth.migrations.config import MIGRATION_LOCK_KEY
from fastapi_auth.migrations.runner import downgrade_database_sync
from tests.conftest import JWT_SECRET
from tests.migrations.conftest import settings_of, versions
from tests.services import POSTGRES_AVAILABLE, TestDatabase, create_database, drop_database
from tests.support import HEAD, REVISIONS

OURS = "fastapi_auth_alembic_version"
RACERS = 4
PROCESSES = 3
PROCESS_LIMIT_SECONDS = 120
"""Not a timing assertion: only so that a deadlock fails instead of stalling the run."""

UPGRADE_IN_A_PROCESS = """
import sys
from fastapi_auth import Settings, upgrade_database_sync
print(",".join(upgrade_database_sync(Settings(_env_file=None))))
"""


async def test_it_says_what_it_applied_and_then_that_nothing_was_left(
    unmigrated_database: TestDatabase,
) -> None:
    settings = settings_of(unmigrated_database)
    assert await upgrade_database(settings, "0001") == ["0001"]
    assert await upgrade_database(settings) == REVISIONS[1:]
    assert await upgrade_database(settings) == []


async def test_the_sync_twin_for_scripts_and_downgrading(unmigrated_database: TestDatabase) -> None:
    settings = settings_of(unmigrated_database)
    assert await asyncio.to_thread(upgrade_database_sync, settings) == REVISIONS
    assert await asyncio.to_thread(downgrade_database_sync, settings, "base") == REVISIONS[::-1]
    assert await versions(unmigrated_database, OURS) == []
    assert await asyncio.to_thread(upgrade_database_sync, settings) == REVISIONS


async def test_upgrades_at_once_in_one_process_all_succeed(
    unmigrated_database: TestDatabase,
) -> None:
    settings = settings_of(unmigrated_database)
    results = await asyncio.gather(*(upgrade_database(settings) for _ in range(RACERS)))
    assert sorted(results) == [[]] * (RACERS - 1) + [REVISIONS]
    assert await versions(unmigrated_database, OURS) == [HEAD]


async def upgrade_in_a_process(database: TestDatabase) -> list[str]:
    environment = {
        **os.environ,
        "DB_URL": database.url,
        "JWT_SECRET": JWT_SECRET,
        "ENVIRONMENT": "test",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        UPGRADE_IN_A_PROCESS,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(PROCESS_LIMIT_SECONDS):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return [revision for revision in out.decode().strip().split(",") if revision]


async def waiting_on_the_migration_lock(admin: asyncpg.Connection, database: str) -> int:
    waiting: int = await admin.fetchval(
        "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = pg_locks.database "
        "WHERE locktype = 'advisory' AND NOT granted AND d.datname = $1",
        database,
    )
    return waiting


@pytest.mark.skipif(not POSTGRES_AVAILABLE, reason="needs PostgreSQL")
async def test_instances_starting_at_once_queue_on_postgresql(tmp_path: Path) -> None:
    """Processes, as instances are, on a fresh database where each would otherwise create
    the same tables. The test holds the lock until every one waits on it, so they all
    start at once; then one applies everything and the others find it done."""
    database = await create_database("postgresql", tmp_path)
    holder = await asyncpg.connect(database.url.replace("+asyncpg", ""))
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        racers = [asyncio.create_task(upgrade_in_a_process(database)) for _ in range(PROCESSES)]
        async with asyncio.timeout(PROCESS_LIMIT_SECONDS):
            for _ in itertools.count():
                if await waiting_on_the_migration_lock(holder, database.name) == PROCESSES:
                    break
                await asyncio.sleep(0.05)
        assert await versions(database, OURS) is None
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        results = await asyncio.gather(*racers)
        assert sorted(results) == [[]] * (PROCESSES - 1) + [REVISIONS]
        assert await versions(database, OURS) == [HEAD]
    finally:
        await holder.close()
        await drop_database(database)

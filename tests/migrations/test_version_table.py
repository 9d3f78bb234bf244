"""Our revisions live in a table of our own, so a host app's Alembic can share the
database; a database migrated by an earlier release (under `alembic_version`) moves over
on its next upgrade, and no row of the host's is ever touched."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from fastapi_auth import upgrade_database
from fastapi_auth.kernel.models import Base
from fastapi_auth.migrations.config import APPLIED, alembic_config, script_head
from tests.migrations.conftest import (
    as_an_earlier_release_left_it,
    host_upgrade,
    settings_of,
    tables,
    versions,
)
from tests.services import TestDatabase
from tests.support import HEAD, REVISIONS

OURS = "fastapi_auth_alembic_version"
LEGACY = "alembic_version"


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    assert script_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_a_fresh_database_records_its_revision_in_our_table_only(
    unmigrated_database: TestDatabase,
) -> None:
    assert await upgrade_database(settings_of(unmigrated_database)) == REVISIONS
    assert await versions(unmigrated_database, OURS) == [script_head()]
    assert await versions(unmigrated_database, LEGACY) is None


@pytest.mark.parametrize("left_at", REVISIONS)
async def test_a_database_an_earlier_release_migrated_moves_to_our_table(
    unmigrated_database: TestDatabase, left_at: str
) -> None:
    settings = settings_of(unmigrated_database)
    await upgrade_database(settings, left_at)
    await as_an_earlier_release_left_it(unmigrated_database)
    assert await versions(unmigrated_database, LEGACY) == [left_at]

    applied = await upgrade_database(settings)

    assert applied == REVISIONS[REVISIONS.index(left_at) + 1 :]
    assert await versions(unmigrated_database, OURS) == [HEAD]
    assert await versions(unmigrated_database, LEGACY) is None, "it held only our row"
    assert set(Base.metadata.tables) <= await tables(unmigrated_database)


async def test_the_hosts_rows_beside_ours_in_alembic_version_stay(
    unmigrated_database: TestDatabase,
) -> None:
    settings = settings_of(unmigrated_database)
    await upgrade_database(settings, "0001")
    await as_an_earlier_release_left_it(unmigrated_database, "host0001")

    assert await upgrade_database(settings) == REVISIONS[1:]

    assert await versions(unmigrated_database, LEGACY) == ["host0001"]
    assert await versions(unmigrated_database, OURS) == [HEAD]


async def test_a_host_revision_alone_in_alembic_version_is_not_ours_to_move(
    unmigrated_database: TestDatabase,
) -> None:
    await asyncio.to_thread(host_upgrade, unmigrated_database)
    assert await upgrade_database(settings_of(unmigrated_database)) == REVISIONS
    assert await versions(unmigrated_database, LEGACY) == ["host0001"]
    assert await versions(unmigrated_database, OURS) == [HEAD]


async def test_the_hosts_alembic_upgrades_before_and_after_ours(
    unmigrated_database: TestDatabase,
) -> None:
    await asyncio.to_thread(host_upgrade, unmigrated_database)
    await upgrade_database(settings_of(unmigrated_database))
    await asyncio.to_thread(host_upgrade, unmigrated_database)
    assert await upgrade_database(settings_of(unmigrated_database)) == []

    assert await versions(unmigrated_database, LEGACY) == ["host0001"]
    assert await versions(unmigrated_database, OURS) == [HEAD]
    assert {"host_widgets", *Base.metadata.tables} <= await tables(unmigrated_database)


async def test_the_hosts_alembic_works_again_once_an_old_database_is_upgraded(
    unmigrated_database: TestDatabase,
) -> None:
    """The bug this table fixes: the host's Alembic met our '0002' in `alembic_version`."""
    settings = settings_of(unmigrated_database)
    await upgrade_database(settings)
    await as_an_earlier_release_left_it(unmigrated_database)
    with pytest.raises(CommandError, match="Can't locate revision"):
        await asyncio.to_thread(host_upgrade, unmigrated_database)

    assert await upgrade_database(settings) == []
    await asyncio.to_thread(host_upgrade, unmigrated_database)

    assert await versions(unmigrated_database, LEGACY) == ["host0001"]
    assert await versions(unmigrated_database, OURS) == [HEAD]


class FailsAfter(list[str]):
    """Stands in for a migration that fails after `steps` others succeeded: the runner's
    list of applied revisions, which env.py extends after each step, inside the run."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def extend(self, revisions: Iterable[str]) -> None:
        if len(self) >= self.steps:
            raise RuntimeError("a migration failed")
        super().extend(revisions)


def failing_upgrade(database: TestDatabase, steps: int) -> None:
    config = alembic_config(database_url=database.url)
    config.attributes[APPLIED] = FailsAfter(steps)
    with pytest.raises(RuntimeError, match="a migration failed"):
        command.upgrade(config, "head")


async def test_a_failed_upgrade_leaves_the_old_version_table_as_it_was(
    unmigrated_database: TestDatabase,
) -> None:
    """The move happens in the migration's own transaction (on SQLite too)."""
    await upgrade_database(settings_of(unmigrated_database), "0001")
    await as_an_earlier_release_left_it(unmigrated_database)
    before = await tables(unmigrated_database)

    await asyncio.to_thread(failing_upgrade, unmigrated_database, 0)

    assert await tables(unmigrated_database) == before
    assert await versions(unmigrated_database, LEGACY) == ["0001"]
    assert await versions(unmigrated_database, OURS) is None


async def test_a_run_that_fails_half_way_leaves_nothing_behind(
    unmigrated_database: TestDatabase,
) -> None:
    """Every revision of one run is one transaction: no schema half-upgraded."""
    await asyncio.to_thread(failing_upgrade, unmigrated_database, 1)
    assert await tables(unmigrated_database) == set()

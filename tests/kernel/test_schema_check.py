"""An app started on a database never migrated says so in one line, once, and nothing
of it is a traceback: not the start, not the dispatcher's polls, however many there are.
Once the schema is upgraded, the dispatcher goes back to work by itself."""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgi_lifespan import LifespanManager

from fastapi_auth import create_app, upgrade_database
from fastapi_auth.migrations.runner import script_head
from tests.conftest import settings_for
from tests.services import TestDatabase

POLL_SECONDS = 0.02
POLLS = 5
HANG_GUARD_SECONDS = 30
"""Not a timing assertion: only so that a dispatcher that never polls fails."""
SCHEMA_LINE = (
    f"fastapi_auth: the database schema is at none, this version needs {script_head()}; run "
    '"fastapi-auth db upgrade" or call fastapi_auth.upgrade_database() at start'
)


def messages(caplog: pytest.LogCaptureFixture, containing: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if containing in record.getMessage()]


async def until(caplog: pytest.LogCaptureFixture, containing: str, count: int) -> None:
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        while len(messages(caplog, containing)) < count:  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)


async def test_an_unmigrated_database_is_one_line_and_no_traceback(
    unmigrated_database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fastapi_auth")
    settings = settings_for(unmigrated_database.url, 1, email_poll_seconds=POLL_SECONDS)
    async with LifespanManager(create_app(settings)):
        await until(caplog, "outbox dispatch still failing", POLLS)
        assert messages(caplog, "the database schema is at") == [SCHEMA_LINE]
        paused = messages(caplog, "outbox dispatch paused")
        assert len(paused) == 1
        assert "the outbox table does not exist" in paused[0]
        assert [record for record in caplog.records if record.exc_info] == []
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]

        await upgrade_database(settings)
        await until(caplog, "outbox dispatch resumed", 1)
    assert messages(caplog, "outbox dispatch paused") == paused


async def test_an_app_at_head_says_nothing_of_its_schema(
    unmigrated_database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(unmigrated_database.url, 1, email_dispatcher_enabled=False)
    await upgrade_database(settings)
    caplog.clear()
    async with LifespanManager(create_app(settings)):
        pass
    assert messages(caplog, "schema") == []

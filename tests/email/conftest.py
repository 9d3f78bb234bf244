"""The email tests run on databases of their own: the session-wide app's dispatcher must not
deliver (or steal) the emails these tests hold back, fail or race over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.email.outbox import Outbox
from tests.email.smtp_servers import TestCertificates, make_certificates
from tests.services import BACKENDS, TestDatabase, create_database, drop_database, migrate

DatabaseFor = Callable[[str], Awaitable[TestDatabase]]


@pytest.fixture(scope="session")
async def email_database_for(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[DatabaseFor]:
    """One migrated database per backend, created on first use."""
    created: dict[str, TestDatabase] = {}

    async def database_for(backend: str) -> TestDatabase:
        if backend not in created:
            database = await create_database(backend, tmp_path_factory.mktemp("email"))
            await asyncio.to_thread(migrate, database.url)
            created[backend] = database
        return created[backend]

    yield database_for
    for database in created.values():
        await drop_database(database)


@pytest.fixture(params=BACKENDS)
async def email_database(
    request: pytest.FixtureRequest, email_database_for: DatabaseFor
) -> TestDatabase:
    return await email_database_for(request.param)


@pytest.fixture
async def outbox(email_database: TestDatabase) -> AsyncIterator[Outbox]:
    """The outbox, emptied: what one test leaves behind never reaches the next one's server."""
    probe = Outbox(email_database)
    await probe.clear()
    yield probe
    await probe.dispose()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))

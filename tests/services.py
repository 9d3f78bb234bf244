"""Which real services this run can use, and a database of its own on each.

SQLite always; PostgreSQL and Redis when they answer. With REQUIRE_SERVICES=1
(CI) a missing one ends the run instead of quietly narrowing it.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from alembic import command

from fastapi_auth.migrations.config import alembic_config

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return True
    except OSError:
        return False


POSTGRES_AVAILABLE = answers(POSTGRES_ADMIN_URL)
REDIS_AVAILABLE = answers(REDIS_URL)
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_AVAILABLE else [])]
LIMITER_STORES = ["memory", *(["redis"] if REDIS_AVAILABLE else [])]


def missing_required_services() -> list[str]:
    if not REQUIRE_SERVICES:
        return []
    return [
        name
        for name, available in (("PostgreSQL", POSTGRES_AVAILABLE), ("Redis", REDIS_AVAILABLE))
        if not available
    ]


@dataclass
class TestDatabase:
    __test__ = False

    backend: str
    url: str
    name: str

    @property
    def sync_url(self) -> str:
        return self.url.replace("+asyncpg", "").replace("+aiosqlite", "")


async def create_database(backend: str, directory: Path) -> TestDatabase:
    name = f"fastapi_auth_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        return TestDatabase(backend, f"sqlite+aiosqlite:///{directory / name}.db", name)
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return TestDatabase(backend, f"{base}/{name}", name)


async def drop_database(database: TestDatabase) -> None:
    if database.backend != "postgresql":
        return
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
    finally:
        await admin.close()


def migrate(url: str, revision: str = "head") -> None:
    """Alembic's env runs its own event loop, so call this from a worker thread."""
    command.upgrade(alembic_config(database_url=url), revision)

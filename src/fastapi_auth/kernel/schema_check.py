"""Whether the database's schema is the one this version was written for.

The expected revision and the table Alembic records it in come from above (main.py
reads them from the migrations), so the kernel knows nothing of Alembic: the check is
one plain query, cheap enough for every readiness probe.
"""

from __future__ import annotations

import logging

from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.errors import SchemaOutdated

logger = logging.getLogger("fastapi_auth")


class SchemaCheck:
    def __init__(self, database: Database, expected_head: str, version_table: str) -> None:
        self.database = database
        self.expected_head = expected_head
        self.version_table = version_table

    async def schema_revision(self) -> str | None:
        """The database's revision; None when it was never migrated."""
        return await self.database.current_revision(self.version_table)

    async def schema_is_current(self) -> bool:
        return await self.schema_revision() == self.expected_head

    def describe(self, revision: str | None) -> str:
        return (
            f"the database schema is at {revision or 'none'}, this version needs "
            f"{self.expected_head}"
        )

    async def require_current(self) -> None:
        """Raises `SchemaOutdated` unless the schema is at the expected head; a database
        that does not answer raises what `Database` raises (a 503 of its own)."""
        revision = await self.schema_revision()
        if revision != self.expected_head:
            detail = self.describe(revision)
            raise SchemaOutdated(f"{detail[0].upper()}{detail[1:]}; run `fastapi-auth db upgrade`.")

    async def warn_if_outdated(self) -> None:
        """Once, at start: one line saying what to run, instead of a traceback from every
        request and every poll that meets a missing table. Never stops the app starting:
        a database that does not answer yet is the readiness probe's to report."""
        try:
            revision = await self.schema_revision()
        except Exception as error:
            logger.warning(
                "fastapi_auth: could not read the database schema's revision at start (%s); "
                "GET /health/ready says when it is ready",
                type(error).__name__,
            )
            return
        if revision != self.expected_head:
            logger.warning(
                'fastapi_auth: %s; run "fastapi-auth db upgrade" or call '
                "fastapi_auth.upgrade_database() at start",
                self.describe(revision),
            )

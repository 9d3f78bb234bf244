"""`GET /health/ready`: 200 only when the database answers and its schema is the one this
version needs; a schema missing or behind is 503 SCHEMA_OUTDATED, saying what to run,
and the same instance turns ready once it is upgraded."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from fastapi_auth import create_app, upgrade_database
from fastapi_auth.migrations.runner import script_head
from tests.conftest import http_client, settings_for
from tests.services import TestDatabase


async def test_ready_at_head(client: httpx.AsyncClient) -> None:
    answer = await client.get("/health/ready")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_outdated_until_upgraded_then_ready(unmigrated_database: TestDatabase) -> None:
    settings = settings_for(unmigrated_database.url, 1, email_dispatcher_enabled=False)
    application = create_app(settings)
    async with LifespanManager(application), http_client(application) as http:
        missing = await http.get("/health/ready")
        await upgrade_database(settings, "0001")
        behind = await http.get("/health/ready")
        await upgrade_database(settings)
        current = await http.get("/health/ready")

    for answer, revision in ((missing, "none"), (behind, "0001")):
        assert answer.status_code == 503
        assert answer.json() == {
            "detail": f"The database schema is at {revision}, this version needs {script_head()}; "
            "run `fastapi-auth db upgrade`.",
            "code": "SCHEMA_OUTDATED",
        }
    assert current.status_code == 200

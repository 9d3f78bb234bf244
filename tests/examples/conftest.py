"""The notes host, with the package mounted, on this run's database (host tables made by
the host's own Alembic)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from examples.notes.app import create_notes_app
from examples.notes.migrations import upgrade_notes
from fastapi_auth import AccountEvent, Hooks
from tests.conftest import make_settings
from tests.mailbox import SmtpCapture
from tests.services import TestDatabase


class HookCalls:
    def __init__(self) -> None:
        self.hooks = Hooks()
        self.events: list[AccountEvent] = []

        @self.hooks.on()
        async def remember(event: AccountEvent) -> None:
            self.events.append(event)


@pytest.fixture(scope="session")
def hook_calls() -> HookCalls:
    return HookCalls()


@pytest.fixture(scope="session")
async def notes_app(
    database: TestDatabase, smtp: SmtpCapture, hook_calls: HookCalls
) -> AsyncIterator[FastAPI]:
    await asyncio.to_thread(upgrade_notes, database.url)
    application = create_notes_app(make_settings(database, smtp), hooks=hook_calls.hooks)
    async with LifespanManager(application):
        yield application

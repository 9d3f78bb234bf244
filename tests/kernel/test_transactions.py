"""One request is one transaction on both databases: what a savepoint wrote is undone
when the transaction around it rolls back, even when the savepoint came first (SQLite's
Python driver would otherwise commit it on its own at the savepoint's release). And the
named exceptions (`kernel/db.py`) are what they say."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.errors import DomainError
from fastapi_auth.kernel.models import User
from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.support import (
    database_of,
    hold_password_checks,
    is_live,
    logged_in,
    login,
    refresh,
    register_verified,
)


async def insert_in_a_savepoint_then_fail(database: Database, user_id: uuid.UUID) -> None:
    async with database.transaction() as session:
        async with session.begin_nested():
            session.add(
                User(
                    id=user_id,
                    email=f"{user_id.hex}@example.com",
                    email_key=f"{user_id.hex}@example.com",
                    password_hash="not a hash",
                    is_verified=True,
                )
            )
        raise DomainError()


async def test_a_savepoint_first_in_a_transaction_rolls_back_with_it(app: FastAPI) -> None:
    database = database_of(app)
    user_id = uuid.uuid4()
    with pytest.raises(DomainError):
        await insert_in_a_savepoint_then_fail(database, user_id)
    async with database.transaction() as session:
        assert await session.scalar(select(User).where(User.id == user_id)) is None


async def test_a_database_error_never_shows_its_statements_values(app: FastAPI) -> None:
    """Its text is logged with the 500 it becomes: the values may be an address, an IP
    or a hash."""
    database = database_of(app)
    user_id = uuid.uuid4()
    secret_address = f"{user_id.hex}-secret@example.com"

    async def insert_twice() -> None:
        async with database.transaction() as session:
            for _ in range(2):
                session.add(
                    User(
                        email=secret_address,
                        email_key=secret_address,
                        password_hash="hash-that-must-not-show",
                        is_verified=True,
                    )
                )
                await session.flush()

    with pytest.raises(IntegrityError) as raised:
        await insert_twice()
    assert secret_address not in str(raised.value)
    assert "hash-that-must-not-show" not in str(raised.value)


# -- the named exceptions to "one request, one transaction" (kernel/db.py) --------------


@dataclass
class SessionsOpened:
    count: int = 0


def count_sessions(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> SessionsOpened:
    """Every ORM session the app opens: the request's, a side read, a unit of work."""
    database = database_of(app)
    opened = SessionsOpened()
    make = database.sessionmaker

    def counted() -> AsyncSession:
        opened.count += 1
        return make()

    monkeypatch.setattr(database, "sessionmaker", counted)
    return opened


async def test_a_read_only_route_opens_no_transaction(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await logged_in(client, mailbox)
    opened = count_sessions(app, monkeypatch)
    assert (await client.get("/users/me", headers=account.headers)).status_code == 200
    assert opened.count == 0


async def test_a_refresh_that_rotates_opens_none_and_one_that_does_not_opens_its_own(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await logged_in(client, mailbox)
    opened = count_sessions(app, monkeypatch)
    assert (await refresh(client, account.refresh_token)).status_code == 200
    assert opened.count == 0
    reused = await refresh(client, account.refresh_token)
    assert reused.status_code == 401
    assert opened.count == 1
    assert not await is_live(client, account), "the reuse ended the session, and it lasted"


async def test_login_reads_the_account_beside_its_transaction_and_holds_no_connection_while_hashing(
    make_app: AppFactory, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = await make_app(email_dispatcher_enabled=False)
    async with http_client(application) as client:
        account = await register_verified(client, mailbox)
        opened = count_sessions(application, monkeypatch)
        held = hold_password_checks(application, monkeypatch)
        attempt = asyncio.create_task(login(client, account))
        await held.until_held(1)
        assert opened.count == 2, "the side read, and the request's own (not begun yet)"
        assert database_of(application).engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        held.release()
        await attempt

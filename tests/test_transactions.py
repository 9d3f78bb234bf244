"""One request is one transaction on both databases: what a savepoint wrote is undone
when the transaction around it rolls back, even when the savepoint came first (SQLite's
Python driver would otherwise commit it on its own at the savepoint's release)."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.errors import DomainError
from fastapi_auth.kernel.models import User
from tests.support import database_of


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

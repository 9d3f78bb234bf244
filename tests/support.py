"""Small steps the tests share: make an account, log in, build headers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

import fastapi_auth.migrations
from fastapi_auth.kernel.components import components_of
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.models import OutboxEmail, SecurityEvent, User
from fastapi_auth.kernel.password_gate import PasswordGate
from fastapi_auth.kernel.passwords import PasswordHasher, Verification
from fastapi_auth.kernel.settings import Settings
from tests.mailbox import Mailbox

PASSWORD = "correct horse battery staple"

T = TypeVar("T")


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Account:
    email: str
    password: str
    access_token: str = ""
    refresh_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **fields: Any
) -> httpx.Response:
    return await client.post(
        "/auth/register", json={"email": email, "password": password, **fields}
    )


async def register_verified(
    client: httpx.AsyncClient, mailbox: Mailbox, password: str = PASSWORD, **fields: Any
) -> Account:
    email = unique_email()
    response = await register(client, email, password, **fields)
    assert response.status_code == 202, response.text
    message = await mailbox.last(email, "Verify")
    verified = await client.post("/auth/verify-email", json={"token": message.token})
    assert verified.status_code == 200, verified.text
    return Account(email=email, password=password)


async def login(client: httpx.AsyncClient, account: Account) -> Account:
    response = await client.post(
        "/auth/login", json={"email": account.email, "password": account.password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    account.access_token = body["access_token"]
    account.refresh_token = body["refresh_token"]
    return account


async def logged_in(client: httpx.AsyncClient, mailbox: Mailbox, **fields: Any) -> Account:
    return await login(client, await register_verified(client, mailbox, **fields))


# -- the app's own database, for state HTTP cannot reach (disabling, legacy hashes) ---------


def part_of(app: FastAPI, kind: type[T]) -> T:
    """One of the parts `main.py` built for the app."""
    return components_of(app).get(kind)


def database_of(app: FastAPI) -> Database:
    return part_of(app, Database)


def settings_of(app: FastAPI) -> Settings:
    return part_of(app, Settings)


async def stored_user(app: FastAPI, email: str) -> User:
    async with database_of(app).transaction() as session:
        user = await session.scalar(select(User).where(User.email_key == email.lower()))
    assert user is not None, email
    return user


async def update_user(app: FastAPI, email: str, **values: Any) -> None:
    async with database_of(app).transaction() as session:
        await session.execute(update(User).where(User.email_key == email.lower()).values(**values))


async def queued_subjects(app: FastAPI, recipient: str) -> list[str]:
    """What the outbox holds for an address: committed with the request, so an email that
    was never queued can be told apart from one the dispatcher has not delivered yet."""
    async with database_of(app).transaction() as session:
        rows = await session.scalars(
            select(OutboxEmail.subject)
            .where(OutboxEmail.recipient == recipient)
            .order_by(OutboxEmail.created_at)
        )
        return list(rows)


async def login_device(client: httpx.AsyncClient, account: Account, user_agent: str) -> Account:
    """Another login of `account`, so another session, from the device `user_agent` names;
    `account` itself keeps its tokens."""
    response = await client.post(
        "/auth/login",
        json={"email": account.email, "password": account.password},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(account.email, account.password, body["access_token"], body["refresh_token"])


async def current_session_id(client: httpx.AsyncClient, account: Account) -> str:
    """The id of the session `account`'s access token belongs to, as the sessions list marks it."""
    response = await client.get("/users/me/sessions", headers=account.headers)
    assert response.status_code == 200, response.text
    [current] = [item for item in response.json() if item["current"]]
    return str(current["id"])


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh_token": token})


def assert_invalid_token(response: httpx.Response) -> None:
    """401 INVALID_TOKEN with the challenge the contract asks of every refused token."""
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@dataclass
class CallCount:
    calls: int = 0


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> CallCount:
    """Counts the calls of `owner`'s async method `name`, which still does its work."""
    count = CallCount()
    method = getattr(owner, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        count.calls += 1
        return await method(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return count


async def count_events(app: FastAPI, email: str, event_type: str) -> int:
    user = await stored_user(app, email)
    async with database_of(app).transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(SecurityEvent.user_id == user.id, SecurityEvent.event_type == event_type)
        )
    return int(count or 0)


@dataclass
class HeldPasswordChecks:
    """The password gate's hasher, holding each check once it is done until `release`:
    requests in flight between their password check and what they write next, for as
    long as the test needs to let another flow finish in between."""

    inner: PasswordHasher
    released: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    _counted: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def hash(self, password: str) -> str:
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> Verification:
        verification = await self.inner.verify(password, password_hash)
        async with self._counted:
            self.held += 1
            self._counted.notify_all()
        await self.released.wait()
        return verification

    async def verify_dummy(self, password: str) -> None:
        await self.inner.verify_dummy(password)

    async def until_held(self, count: int, within_seconds: float = 30.0) -> None:
        async with asyncio.timeout(within_seconds), self._counted:
            await self._counted.wait_for(lambda: self.held >= count)

    def release(self) -> None:
        self.released.set()


def hold_password_checks(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> HeldPasswordChecks:
    gate = part_of(app, PasswordGate)
    held = HeldPasswordChecks(gate.hasher)
    monkeypatch.setattr(gate, "hasher", held)
    return held


async def reset_link(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    """A fresh reset link's token for `email` (the newest "Reset your password" email)."""
    count = len([m for m in mailbox.to(email) if "Reset your password" in m.subject]) + 1
    response = await client.post("/auth/forgot-password", json={"email": email})
    assert response.status_code == 202, response.text
    return (await mailbox.wait_for(email, "Reset your password", count=count))[-1].token


async def is_live(client: httpx.AsyncClient, account: Account) -> bool:
    """Whether either of the account's tokens still works (refreshing spends the token)."""
    me = await client.get("/users/me", headers=account.headers)
    if me.status_code == 200:
        return True
    assert me.status_code == 401, me.text
    return (await refresh(client, account.refresh_token)).status_code == 200


REVISIONS = sorted(
    path.name.partition("_")[0]
    for path in (Path(fastapi_auth.migrations.__file__).parent / "versions").glob("0*.py")
)
"""Every revision of the package's schema, oldest first, so tests follow each new one."""
HEAD = REVISIONS[-1]

"""Small steps the tests share: make an account, log in, build headers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.mailbox import Mailbox

PASSWORD = "correct horse battery staple"


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

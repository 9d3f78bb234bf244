"""DELETE /users/me: the password again, then every session ends, the personal data goes,
the address is free, a goodbye email is sent, and the log keeps only types and times."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from fastapi_auth.models import AuthSession, SecurityEvent, User
from tests.mailbox import Mailbox
from tests.support import (
    Account,
    login,
    login_device,
    queued_subjects,
    register,
    register_verified,
    runtime_of,
    stored_user,
)

GOODBYE = "Your account has been deleted"


async def delete_account(
    client: httpx.AsyncClient, account: Account, password: str
) -> httpx.Response:
    return await client.request(
        "DELETE", "/users/me", json={"password": password}, headers=account.headers
    )


async def test_a_wrong_password_deletes_nothing(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await login(client, await register_verified(client, mailbox))
    response = await delete_account(client, account, "not the password at all")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The current password is incorrect.",
        "code": "INVALID_PASSWORD",
    }
    me = await client.get("/users/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["email"] == account.email
    assert GOODBYE not in await queued_subjects(app, account.email)


async def test_a_password_is_required(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await login(client, await register_verified(client, mailbox))
    for body in ({}, {"password": ""}):
        response = await client.request("DELETE", "/users/me", json=body, headers=account.headers)
        assert response.status_code == 422, body
    unauthenticated = await client.request("DELETE", "/users/me", json={"password": "x" * 8})
    assert unauthenticated.status_code == 401
    assert (await client.get("/users/me", headers=account.headers)).status_code == 200


async def test_deletion_ends_everything_and_frees_the_address(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox, full_name="Ada Lovelace")
    laptop = await login_device(client, account, "laptop")
    phone = await login_device(client, account, "phone")
    old_id = (await stored_user(app, account.email)).id
    new_address = f"new-{account.email}"
    changed = await client.patch(
        "/users/me",
        json={"email": new_address, "current_password": account.password},
        headers=phone.headers,
    )
    assert changed.json()["pending_email"] == new_address

    response = await delete_account(client, laptop, account.password)

    assert response.status_code == 204
    assert response.content == b""
    for device in (laptop, phone):
        me = await client.get("/users/me", headers=device.headers)
        assert me.status_code == 401
        assert me.json()["code"] == "INVALID_TOKEN"
        refreshed = await client.post("/auth/refresh", json={"refresh_token": device.refresh_token})
        assert refreshed.status_code == 401
    again = await client.post(
        "/auth/login", json={"email": account.email, "password": account.password}
    )
    assert again.status_code == 401
    assert again.json()["code"] == "INVALID_CREDENTIALS"

    goodbye = await mailbox.last(account.email, GOODBYE)
    assert "Ada Lovelace" in goodbye.text
    assert account.email in goodbye.text
    assert [GOODBYE in subject for subject in await queued_subjects(app, account.email)] == [True]
    assert await queued_subjects(app, new_address) == []

    async with runtime_of(app).database.transaction() as session:
        assert await session.get(User, old_id) is None
        sessions_left = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == old_id)
        )
        kept = (
            await session.execute(
                select(
                    SecurityEvent.event_type,
                    SecurityEvent.created_at,
                    SecurityEvent.ip_address,
                    SecurityEvent.user_agent,
                ).where(SecurityEvent.user_id == old_id)
            )
        ).all()
    assert sessions_left == 0
    assert sorted(row.event_type for row in kept) == [
        "account_deleted",
        "email_change_requested",
        "email_verified",
        "login_succeeded",
        "login_succeeded",
    ]
    assert all(row.created_at is not None for row in kept)
    assert {(row.ip_address, row.user_agent) for row in kept} == {(None, None)}

    registered = await register(client, account.email, password="a fresh start passphrase")
    assert registered.status_code == 202
    verification = (await mailbox.wait_for(account.email, "Verify", count=2))[-1]
    verified = await client.post("/auth/verify-email", json={"token": verification.token})
    assert verified.status_code == 200
    fresh = await login(client, Account(account.email, "a fresh start passphrase"))
    me = (await client.get("/users/me", headers=fresh.headers)).json()
    assert me["id"] != str(old_id)
    assert me["full_name"] is None
    events = await client.get("/users/me/security-events", headers=fresh.headers)
    assert [item["event_type"] for item in events.json()["items"]] == [
        "login_succeeded",
        "email_verified",
    ]

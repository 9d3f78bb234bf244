"""DELETE /users/me: the password again, then every session ends, the personal data goes,
the address is free, a goodbye email is sent, and the log keeps only types and times."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from fastapi_auth.kernel.models import AuthSession, OutboxEmail, SecurityEvent, User
from tests.conftest import AppFactory, two_instances
from tests.mailbox import Mailbox
from tests.support import (
    Account,
    database_of,
    login,
    login_device,
    queued_subjects,
    register,
    register_verified,
    stored_user,
)

GOODBYE = "Your account has been deleted"
FAST_HASHING = {"argon2_memory_kib": 8_192, "argon2_time_cost": 1}


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

    async with database_of(app).transaction() as session:
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


async def test_deletion_removes_the_accounts_mail_to_every_address_it_had(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await login(client, await register_verified(client, mailbox, full_name="Ada"))
    first_address = account.email
    moved = f"moved-{first_address}"
    changed = await client.patch(
        "/users/me",
        json={"email": moved, "current_password": account.password},
        headers=account.headers,
    )
    assert changed.status_code == 200
    confirmation = await mailbox.last(moved, "Confirm")
    assert (await client.post("/auth/verify-email", json={"token": confirmation.token})).is_success
    assert await queued_subjects(app, first_address)

    assert (await delete_account(client, account, account.password)).status_code == 204
    assert await queued_subjects(app, first_address) == []
    assert await queued_subjects(app, moved) == [GOODBYE]


async def test_deletion_keeps_mail_of_another_account_at_a_stale_pending_address(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A's pending change to X was never confirmed; B then made X theirs. Deleting A must
    not delete B's mail."""
    first = await login(client, await register_verified(client, mailbox))
    contested = f"contested-{first.email}"
    pending = await client.patch(
        "/users/me",
        json={"email": contested, "current_password": first.password},
        headers=first.headers,
    )
    assert pending.json()["pending_email"] == contested
    assert (await register(client, contested)).status_code == 202
    verification = await mailbox.last(contested, "Verify")
    assert (await client.post("/auth/verify-email", json={"token": verification.token})).is_success
    assert (await client.post("/auth/forgot-password", json={"email": contested})).is_success
    await mailbox.last(contested, "Reset")

    assert (await delete_account(client, first, first.password)).status_code == 204
    left = await queued_subjects(app, contested)
    assert "Reset your password" in left
    assert "Verify your email address" in left


async def test_requests_racing_a_deletion_end_in_4xx_and_leave_nothing_behind(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    """Logins (right and wrong), profile updates and password changes in flight while the
    account is deleted, over two instances: none is a 500, and nothing of the account,
    an IP address included, survives the deletion."""
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        for _ in range(4):
            account = await register_verified(first, mailbox)
            deleter = await login_device(first, account, "deleter")
            racer = await login_device(second, account, "racer")
            user_id = (await stored_user(app, account.email)).id
            right = {"email": account.email, "password": account.password}
            wrong = {"email": account.email, "password": "not the password at all"}
            change = {"current_password": account.password, "new_password": "racing passphrase"}
            forgot = {"email": account.email}
            requests = [
                delete_account(first, deleter, account.password),
                *(second.post("/auth/login", json=right) for _ in range(3)),
                *(first.post("/auth/login", json=wrong) for _ in range(3)),
                *(
                    second.patch("/users/me", json={"full_name": "Racer"}, headers=racer.headers)
                    for _ in range(3)
                ),
                *(second.post("/auth/forgot-password", json=forgot) for _ in range(2)),
                first.post("/auth/register", json={**right, "full_name": "Racer"}),
                second.post("/users/change-password", json=change, headers=racer.headers),
            ]
            answers = await asyncio.gather(*requests)
            for answer in answers[1:]:
                assert answer.status_code in {200, 202, 401}, answer.text
            deleted, changed = answers[0], answers[-1]
            assert (deleted.status_code, changed.status_code) in {(204, 401), (401, 200)}
            if changed.status_code == 200:
                # The change won (a credential change wins over what began before it, and
                # the deletion was bound to the old password); delete with the new one.
                again = await delete_account(second, racer, "racing passphrase")
                assert again.status_code == 204, again.text
            after = await second.post("/auth/login", json=right)
            # 403 when the racing registration landed after the deletion: a new sign-up
            # of the freed address, waiting for its own link.
            assert after.status_code in {401, 403}, after.text
            async with database_of(app).transaction() as session:
                assert await session.get(User, user_id) is None
                live = await session.scalar(
                    select(func.count())
                    .select_from(AuthSession)
                    .where(AuthSession.user_id == user_id)
                )
                traces = (
                    await session.execute(
                        select(SecurityEvent.ip_address, SecurityEvent.user_agent).where(
                            SecurityEvent.user_id == user_id
                        )
                    )
                ).all()
                mail = await session.scalar(
                    select(func.count())
                    .select_from(OutboxEmail)
                    .where(OutboxEmail.account_id == user_id)
                )
            assert live == 0
            assert mail == 0, "mail about the deleted account was queued after it went"
            assert {tuple(row) for row in traces} == {(None, None)}

"""Forgot and reset password: one answer for every address, a link that works once, and
a reset that ends every session."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from fastapi_auth.kernel.tokens import RESET_PASSWORD_SALT
from tests.conftest import AppFactory, http_client
from tests.flows.conftest import backdated_link_token, tampered
from tests.mailbox import Mailbox
from tests.support import (
    Account,
    bearer,
    logged_in,
    login,
    queued_subjects,
    register,
    register_verified,
    settings_of,
    unique_email,
)

RESET = "Reset your password"
ACTIVATE = "Finish creating your account"
NEW_PASSWORD = "a brand new passphrase"


async def reset_token(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    count = len([m for m in mailbox.to(email) if RESET in m.subject]) + 1
    response = await client.post("/auth/forgot-password", json={"email": email})
    assert response.status_code == 202
    return (await mailbox.wait_for(email, RESET, count=count))[-1].token


async def reset(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/auth/reset-password", json={"token": token, "new_password": password}
    )


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


def assert_invalid_link(response: httpx.Response, case: str = "") -> None:
    assert response.status_code == 400, (case, response.text)
    assert response.json()["code"] == "INVALID_TOKEN", case


async def test_forgot_password_answers_alike_and_mails_only_an_account(
    make_app: AppFactory, mailbox: Mailbox
) -> None:
    """The link is built from FRONTEND_URL, which need not be this service."""
    frontend = "https://accounts.example.org"
    app = await make_app(frontend_url=frontend)
    async with http_client(app) as client:
        account = await register_verified(client, mailbox)
        unverified = unique_email()
        await register(client, unverified)
        unknown = unique_email("nobody")
        answers = [
            await client.post("/auth/forgot-password", json={"email": address})
            for address in (unknown, account.email, unverified)
        ]
        assert [answer.status_code for answer in answers] == [202, 202, 202]
        assert answers[0].json() == answers[1].json() == answers[2].json()
        for address, subject in ((account.email, RESET), (unverified, ACTIVATE)):
            link = (await mailbox.last(address, subject)).link
            assert link.startswith(f"{frontend}/reset-password?token="), link
        assert await queued_subjects(app, unknown) == []


async def test_reset_sets_the_new_password_once(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    token = await reset_token(client, mailbox, account.email)
    done = await reset(client, token)
    assert done.status_code == 200, done.text
    assert set(done.json()) == {"detail"}
    assert (await attempt(client, account.email, NEW_PASSWORD)).status_code == 200
    old = await attempt(client, account.email, account.password)
    assert old.status_code == 401
    assert_invalid_link(await reset(client, token, "yet another passphrase"))
    assert (await attempt(client, account.email, NEW_PASSWORD)).status_code == 200


async def test_reset_ends_every_session(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    laptop = await logged_in(client, mailbox)
    phone = await login(client, Account(laptop.email, laptop.password))
    token = await reset_token(client, mailbox, laptop.email)
    assert (await reset(client, token)).status_code == 200
    for session in (laptop, phone):
        me = await client.get("/users/me", headers=session.headers)
        assert me.status_code == 401
        assert me.json()["code"] == "INVALID_TOKEN"
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": session.refresh_token}
        )
        assert refreshed.status_code == 401


async def test_a_weak_new_password_is_422_and_leaves_the_link_usable(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    token = await reset_token(client, mailbox, account.email)
    for weak in ("password123", "Zq9!x", account.email, "p" * 129):
        response = await reset(client, token, weak)
        assert response.status_code == 422, weak
        assert isinstance(response.json()["detail"], list)
        assert weak not in response.text
    assert (await reset(client, token)).status_code == 200


async def test_bad_links_are_refused(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Tampered, expired, or a verification link (same key, another salt)."""
    email = unique_email()
    await register(client, email)
    verify_token = (await mailbox.last(email, "Verify")).token
    token = await reset_token(client, mailbox, (await register_verified(client, mailbox)).email)
    lifetime = settings_of(app).reset_token_expire_minutes * 60
    bad = {
        "tampered": tampered(token),
        "expired": backdated_link_token(app, token, RESET_PASSWORD_SALT, lifetime + 60),
        "verification link": verify_token,
        "garbage": "not-a-token",
    }
    for case, forged in bad.items():
        assert_invalid_link(await reset(client, forged), case)
    nearly = backdated_link_token(app, token, RESET_PASSWORD_SALT, lifetime - 60)
    assert (await reset(client, nearly)).status_code == 200


async def test_a_link_issued_before_a_password_change_is_dead_after_it(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    token = await reset_token(client, mailbox, account.email)
    changed = await client.post(
        "/users/change-password",
        json={"current_password": account.password, "new_password": "changed in the meantime"},
        headers=account.headers,
    )
    assert changed.status_code == 200
    assert_invalid_link(await reset(client, token))
    assert (await attempt(client, account.email, "changed in the meantime")).status_code == 200


async def test_two_concurrent_uses_of_one_link_reset_once(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    token = await reset_token(client, mailbox, account.email)
    passwords = ("first racer passphrase", "second racer passphrase")
    responses = await asyncio.gather(*(reset(client, token, p) for p in passwords))
    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [200, 400], [r.text for r in responses]
    winner, loser = passwords if statuses[0] == 200 else reversed(passwords)
    assert (await attempt(client, account.email, winner)).status_code == 200
    assert (await attempt(client, account.email, loser)).status_code == 401


async def test_forgot_password_for_an_unverified_address_lets_its_owner_choose_one(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Following the emailed link proves the address as much as the verification link."""
    email = unique_email()
    await register(client, email)
    assert (await client.post("/auth/forgot-password", json={"email": email})).status_code == 202
    token = (await mailbox.last(email, ACTIVATE)).token
    assert (await reset(client, token)).status_code == 200
    response = await attempt(client, email, NEW_PASSWORD)
    assert response.status_code == 200
    me = await client.get("/users/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["is_verified"] is True

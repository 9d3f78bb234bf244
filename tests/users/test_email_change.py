"""An email change needs the password, waits for the new address, and loses to the
owner: a reset, a password change or logging out everywhere cancels it, and the notice
to the old address carries a link that cancels it (or undoes it once confirmed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeTimedSerializer

from tests.conftest import AppFactory, two_instances
from tests.mailbox import Mailbox
from tests.support import (
    Account,
    count_events,
    is_live,
    logged_in,
    login,
    login_device,
    queued_subjects,
    reset_link,
    unique_email,
)

CONFIRM = "Confirm your new email address"
NOTICE = "Your email address is being changed"
CANCELLED = "Your email change was cancelled"
JSON = {"Accept": "application/json"}
NEW_PASSWORD = "the owner's new passphrase"


async def request_change(
    client: httpx.AsyncClient, session: Account, new_email: str, password: str | None
) -> httpx.Response:
    body: dict[str, str] = {"email": new_email}
    if password is not None:
        body["current_password"] = password
    return await client.patch("/users/me", json=body, headers=session.headers)


async def confirm(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/verify-email", json={"token": token})


async def cancel(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/cancel-email-change", json={"token": token})


async def me(client: httpx.AsyncClient, session: Account) -> dict[str, object]:
    response = await client.get("/users/me", headers=session.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_stolen_token_alone_cannot_start_an_email_change(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    stolen = await login_device(client, account, "thief")
    target = unique_email("attacker")
    for password in (None, "", "a guessed passphrase"):
        refused = await request_change(client, stolen, target, password)
        assert refused.status_code in {400, 422}, refused.text
        if refused.status_code == 400:
            assert refused.json()["code"] == "INVALID_PASSWORD"
    assert await queued_subjects(app, target) == []
    assert (await me(client, account))["pending_email"] is None
    assert await count_events(app, account.email, "password_check_failed") == 1


async def test_the_confirmation_carries_no_words_of_the_requester(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    words = "Pay the invoice at evil.example"
    account = await logged_in(client, mailbox, full_name=words)
    target = unique_email("target")
    assert (await request_change(client, account, target, account.password)).status_code == 200
    confirmation = await mailbox.last(target, CONFIRM)
    assert words not in confirmation.text
    assert words not in confirmation.html
    notice = await mailbox.last(account.email, NOTICE)
    assert "/auth/cancel-email-change?token=" in notice.link
    for token in (notice.token, confirmation.token):
        _, payload = URLSafeTimedSerializer("any key").loads_unsafe(token)
        assert "@" not in str(payload), payload


Recovery = Callable[[httpx.AsyncClient, Mailbox, Account], Awaitable[None]]


async def by_reset(client: httpx.AsyncClient, mailbox: Mailbox, owner: Account) -> None:
    token = await reset_link(client, mailbox, owner.email)
    answer = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert answer.status_code == 200, answer.text


async def by_password_change(client: httpx.AsyncClient, _: Mailbox, owner: Account) -> None:
    answer = await client.post(
        "/users/change-password",
        json={"current_password": owner.password, "new_password": NEW_PASSWORD},
        headers=owner.headers,
    )
    assert answer.status_code == 200, answer.text


async def by_logout_all(client: httpx.AsyncClient, _: Mailbox, owner: Account) -> None:
    answer = await client.post("/users/logout-all", headers=owner.headers)
    assert answer.status_code == 204


async def by_the_cancel_link(client: httpx.AsyncClient, mailbox: Mailbox, owner: Account) -> None:
    notice = await mailbox.last(owner.email, NOTICE)
    answer = await client.get(
        "/auth/cancel-email-change", params={"token": notice.token}, headers=JSON
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "recover", [by_reset, by_password_change, by_logout_all, by_the_cancel_link]
)
async def test_the_owners_recovery_kills_a_pending_change(
    client: httpx.AsyncClient, mailbox: Mailbox, recover: Recovery
) -> None:
    """The attacker has the password and a session and asks for their own address; the
    owner, warned by the notice, recovers: the attacker's confirmation link is dead, and
    a reset link goes to the owner's address."""
    owner = await logged_in(client, mailbox)
    attacker = await login_device(client, owner, "attacker")
    target = unique_email("attacker")
    assert (await request_change(client, attacker, target, owner.password)).status_code == 200
    confirmation = await mailbox.last(target, CONFIRM)
    await recover(client, mailbox, owner)

    dead = await confirm(client, confirmation.token)
    assert dead.status_code == 400, dead.text
    assert dead.json()["code"] == "INVALID_TOKEN"
    forgot = await client.post("/auth/forgot-password", json={"email": target})
    assert forgot.status_code == 202
    assert await reset_link(client, mailbox, owner.email)
    assert [m for m in mailbox.to(target) if "Reset" in m.subject] == []


async def test_cancelling_after_confirmation_puts_the_old_address_back(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    owner = await logged_in(client, mailbox, full_name="Ada")
    attacker = await login_device(client, owner, "attacker")
    target = unique_email("attacker")
    assert (await request_change(client, attacker, target, owner.password)).status_code == 200
    confirmation = await mailbox.last(target, CONFIRM)
    notice = await mailbox.last(owner.email, NOTICE)
    assert (await confirm(client, confirmation.token)).status_code == 200
    assert (await me(client, owner))["email"] == target

    page = await client.get("/auth/cancel-email-change", params={"token": notice.token})
    assert page.status_code == 200
    assert 'action="/auth/cancel-email-change"' in page.text
    assert (await me(client, owner))["email"] == target, "a plain GET changes nothing"
    pressed = await client.post("/auth/cancel-email-change", data={"token": notice.token})
    assert pressed.status_code == 200
    assert pressed.headers["content-type"].startswith("text/html")
    assert owner.email in pressed.text

    for session in (owner, attacker):
        assert not await is_live(client, session)
    back = await login(client, Account(owner.email, owner.password))
    assert (await me(client, back))["email"] == owner.email
    assert (await cancel(client, notice.token)).status_code == 400
    assert await count_events(app, owner.email, "email_change_cancelled") == 1
    told = await mailbox.last(owner.email, CANCELLED)
    assert target in told.text
    assert (await client.post("/auth/forgot-password", json={"email": target})).status_code == 202
    assert await queued_subjects(app, target) == [CONFIRM]


async def test_a_later_change_cannot_be_cancelled_back_to_the_attackers_address(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """The attacker chains two changes; the owner cancels the first; the second's cancel
    link (in the attacker's first mailbox) must not put the attacker's address back."""
    owner = await logged_in(client, mailbox)
    attacker = await login_device(client, owner, "attacker")
    first, second = unique_email("hop-one"), unique_email("hop-two")
    assert (await request_change(client, attacker, first, owner.password)).status_code == 200
    assert (await confirm(client, (await mailbox.last(first, CONFIRM)).token)).status_code == 200
    owners_notice = await mailbox.last(owner.email, NOTICE)
    assert (await request_change(client, attacker, second, owner.password)).status_code == 200
    assert (await confirm(client, (await mailbox.last(second, CONFIRM)).token)).status_code == 200
    attackers_notice = await mailbox.last(first, NOTICE)

    assert (await cancel(client, owners_notice.token)).status_code == 200
    assert (await cancel(client, attackers_notice.token)).status_code == 400
    back = await login(client, Account(owner.email, owner.password))
    assert (await me(client, back))["email"] == owner.email


async def test_confirmations_and_cancellations_racing_end_in_one_consistent_state(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    """The confirmation, the cancellation and a reset, all at once on two instances:
    whichever wins, the account ends with the owner's address unless the cancellation
    lost to nothing, and never with a half-applied change."""
    async with two_instances(app, make_app) as (first, second):
        for round_number in range(5):
            owner = await logged_in(first, mailbox)
            target = unique_email(f"race-{round_number}")
            body = await request_change(first, owner, target, owner.password)
            assert body.status_code == 200
            confirmation = await mailbox.last(target, CONFIRM)
            notice = await mailbox.last(owner.email, NOTICE)
            confirmed, cancelled = await asyncio.gather(
                confirm(first, confirmation.token), cancel(second, notice.token)
            )
            assert cancelled.status_code == 200, cancelled.text
            assert confirmed.status_code in {200, 400}, confirmed.text
            back = await login(first, Account(owner.email, owner.password))
            state = await me(first, back)
            assert (state["email"], state["pending_email"]) == (owner.email, None)
            assert not await is_live(first, owner)

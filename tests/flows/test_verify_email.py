"""Verification links: JSON for API clients, a page with a button for everyone else (a
plain GET changes nothing), single-use, bound to their purpose, expiring; and asking
for a new one without telling anyone which addresses have accounts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeTimedSerializer

from fastapi_auth.kernel.tokens import VERIFY_EMAIL_SALT
from tests.conftest import AppFactory, two_instances
from tests.flows.conftest import backdated_link_token, tampered
from tests.mailbox import Mailbox
from tests.support import (
    PASSWORD,
    Account,
    count_events,
    login,
    queued_subjects,
    register,
    register_verified,
    settings_of,
    unique_email,
)

VERIFY = "Verify your email address"
JSON = {"Accept": "application/json"}
ACTIVATE = "Finish creating your account"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def registered(client: httpx.AsyncClient, mailbox: Mailbox) -> tuple[str, str]:
    """A new unverified account and the token of its verification link."""
    email = unique_email()
    assert (await register(client, email)).status_code == 202
    return email, (await mailbox.last(email, VERIFY)).token


def assert_invalid_link(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_TOKEN"


async def test_the_link_answers_json_once_and_then_400(
    client: httpx.AsyncClient, mailbox: Mailbox, reuse_at_once: None
) -> None:
    email, token = await registered(client, mailbox)
    first = await client.get("/auth/verify-email", params={"token": token}, headers=JSON)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/json")
    assert set(first.json()) == {"detail"}
    assert email in first.json()["detail"]
    again = await client.get("/auth/verify-email", params={"token": token}, headers=JSON)
    assert_invalid_link(again)
    assert_invalid_link(await client.post("/auth/verify-email", json={"token": token}))
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200


async def test_a_browser_or_a_mail_scanner_gets_a_button_and_nothing_changes(
    client: httpx.AsyncClient, mailbox: Mailbox, reuse_at_once: None
) -> None:
    """Only the page's form post verifies; it answers with a page too."""
    email, token = await registered(client, mailbox)
    for accept in (BROWSER, {"Accept": "*/*"}, {}):
        page = await client.get("/auth/verify-email", params={"token": token}, headers=accept)
        assert page.status_code == 200, accept
        assert page.headers["content-type"].startswith("text/html")
        assert 'method="post" action="/auth/verify-email"' in page.text
        assert f'name="token" value="{token}"' in page.text
    not_yet = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert not_yet.json()["code"] == "EMAIL_NOT_VERIFIED"

    pressed = await client.post("/auth/verify-email", data={"token": token}, headers=BROWSER)
    assert pressed.status_code == 200
    assert pressed.headers["content-type"].startswith("text/html")
    assert "verified" in pressed.text
    assert email in pressed.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200

    stale = await client.get("/auth/verify-email", params={"token": token}, headers=BROWSER)
    assert stale.status_code == 400
    assert stale.headers["content-type"].startswith("text/html")
    assert "Link not valid" in stale.text
    twice = await client.post("/auth/verify-email", data={"token": token}, headers=BROWSER)
    assert twice.status_code == 400
    assert "Link not valid" in twice.text


async def test_single_page_apps_post_the_token(
    client: httpx.AsyncClient, mailbox: Mailbox, reuse_at_once: None
) -> None:
    email, token = await registered(client, mailbox)
    first = await client.post("/auth/verify-email", json={"token": token})
    assert first.status_code == 200
    assert email in first.json()["detail"]
    assert_invalid_link(await client.post("/auth/verify-email", json={"token": token}))


async def test_tampered_and_foreign_tokens_are_refused(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A reset link is signed with the same key, under another salt: it verifies nothing."""
    email, token = await registered(client, mailbox)
    assert (await client.post("/auth/forgot-password", json={"email": email})).status_code == 202
    reset_token = (await mailbox.last(email, ACTIVATE)).token
    for bad in (tampered(token), reset_token, "not-a-token", token + "x"):
        assert_invalid_link(await client.post("/auth/verify-email", json={"token": bad}))
        link = await client.get("/auth/verify-email", params={"token": bad}, headers=JSON)
        assert_invalid_link(link)
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.json()["code"] == "EMAIL_NOT_VERIFIED"
    assert (await client.post("/auth/verify-email", json={"token": token})).status_code == 200


async def test_an_expired_link_is_refused(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, token = await registered(client, mailbox)
    lifetime = settings_of(app).verify_token_expire_hours * 3600
    expired = backdated_link_token(app, token, VERIFY_EMAIL_SALT, lifetime + 60)
    assert_invalid_link(await client.post("/auth/verify-email", json={"token": expired}))
    nearly = backdated_link_token(app, token, VERIFY_EMAIL_SALT, lifetime - 60)
    assert (await client.post("/auth/verify-email", json={"token": nearly})).status_code == 200


async def test_resend_answers_alike_and_mails_only_the_unverified(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A lost verification email is replaced by a link to choose the password: nothing
    tells which of several registrations of the address was the asker's, so none of their
    passwords (or names) is activated by it."""
    verified = await register_verified(client, mailbox)
    unverified, _ = await registered(client, mailbox)
    await register(client, unverified, password="someone else's passphrase")
    unknown = unique_email("nobody")
    answers = [
        await client.post("/auth/resend-verification", json={"email": address})
        for address in (unknown, verified.email, unverified)
    ]
    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert answers[0].json() == answers[1].json() == answers[2].json()

    fresh = await mailbox.last(unverified, ACTIVATE)
    assert "/reset-password?token=" in fresh.link
    assert await queued_subjects(app, unknown) == []
    assert ACTIVATE not in await queued_subjects(app, verified.email)
    chosen = "the passphrase chosen now"
    done = await client.post(
        "/auth/reset-password", json={"token": fresh.token, "new_password": chosen}
    )
    assert done.status_code == 200, done.text
    for password, status in ((chosen, 200), (PASSWORD, 401), ("someone else's passphrase", 401)):
        response = await client.post(
            "/auth/login", json={"email": unverified, "password": password}
        )
        assert response.status_code == status, password
    again = await client.post(
        "/auth/reset-password", json={"token": fresh.token, "new_password": "once more, please"}
    )
    assert_invalid_link(again)


async def test_concurrent_uses_of_one_link_act_once_and_answer_alike(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mail scanner and the owner, or a double click, over two instances: one acts,
    the others get the same answer, and the log holds one event; a later use is 400."""
    async with two_instances(app, make_app) as (first, second):
        for _ in range(3):
            email, token = await registered(first, mailbox)
            answers = await asyncio.gather(
                *(
                    (first, second)[index % 2].post("/auth/verify-email", json={"token": token})
                    for index in range(8)
                )
            )
            assert {answer.status_code for answer in answers} == {200}, [a.text for a in answers]
            assert len({answer.text for answer in answers}) == 1
            assert await count_events(app, email, "email_verified") == 1
            monkeypatch.setattr("fastapi_auth.flows.service.RACING_USE", timedelta(0))
            assert_invalid_link(await first.post("/auth/verify-email", json={"token": token}))
            monkeypatch.undo()

            account = await login(first, Account(email, PASSWORD))
            moved = unique_email("moved")
            body = {"email": moved, "current_password": PASSWORD}
            assert (await first.patch("/users/me", json=body, headers=account.headers)).is_success
            confirm = (await mailbox.last(moved, "Confirm")).token
            answers = await asyncio.gather(
                *(
                    (first, second)[index % 2].post("/auth/verify-email", json={"token": confirm})
                    for index in range(8)
                )
            )
            assert {answer.status_code for answer in answers} == {200}, [a.text for a in answers]
            assert await count_events(app, moved, "email_change_confirmed") == 1
            monkeypatch.setattr("fastapi_auth.flows.service.RACING_USE", timedelta(0))
            assert_invalid_link(await second.post("/auth/verify-email", json={"token": confirm}))
            monkeypatch.undo()


async def test_no_link_carries_an_address(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    """Signed, not encrypted: a link's payload is readable, so it names records and
    stamps only (verification, first password, reset, email change and its cancel)."""
    email = unique_email()
    await register(client, email)
    tokens = [(await mailbox.last(email, VERIFY)).token]
    await client.post("/auth/resend-verification", json={"email": email})
    tokens.append((await mailbox.last(email, ACTIVATE)).token)
    account = await register_verified(client, mailbox)
    await client.post("/auth/forgot-password", json={"email": account.email})
    tokens.append((await mailbox.last(account.email, "Reset")).token)
    signed_in = await login(client, account)
    moved = unique_email("moved")
    body = {"email": moved, "current_password": account.password}
    assert (await client.patch("/users/me", json=body, headers=signed_in.headers)).is_success
    tokens.append((await mailbox.last(moved, "Confirm")).token)
    tokens.append((await mailbox.last(account.email, "being changed")).token)
    for token in tokens:
        _, payload = URLSafeTimedSerializer("any key").loads_unsafe(token)
        assert isinstance(payload, dict), token
        assert "@" not in str(payload), payload

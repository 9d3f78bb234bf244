"""Registering someone else's address before they verify it takes nothing over: each
registration's link activates its own password and profile, the email carries none of
a registrant's words, and a mail scanner fetching the link activates nothing."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory, two_instances
from tests.mailbox import Mailbox, ReceivedEmail
from tests.support import register, unique_email

OWNER_PASSWORD = "the owner's own passphrase"
ATTACKER_PASSWORD = "the attacker's passphrase"
ATTACKER_WORDS = "Urgent: wire 500 EUR to evil.example"
VERIFY = "Verify your email address"
SCANNER = {"Accept": "*/*", "User-Agent": "MailScanner/1.0"}


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


def assert_no_attacker_text(message: ReceivedEmail) -> None:
    assert ATTACKER_WORDS not in message.text
    assert ATTACKER_WORDS not in message.html


@pytest.mark.parametrize("attacker_first", [False, True], ids=["owner-first", "attacker-first"])
async def test_the_owners_link_activates_the_owners_password(
    client: httpx.AsyncClient, mailbox: Mailbox, attacker_first: bool
) -> None:
    email = unique_email("owner")
    owner = {"password": OWNER_PASSWORD, "full_name": "Ada Lovelace"}
    attacker = {"password": ATTACKER_PASSWORD, "full_name": ATTACKER_WORDS}
    order = [attacker, owner] if attacker_first else [owner, attacker]
    for fields in order:
        assert (await register(client, email, **fields)).status_code == 202
    messages = await mailbox.wait_for(email, VERIFY, count=2)
    for message in messages:
        assert_no_attacker_text(message)
    owners_link = messages[order.index(owner)]
    attackers_link = messages[order.index(attacker)]

    for message in messages:
        scanned = await client.get(
            "/auth/verify-email", params={"token": message.token}, headers=SCANNER
        )
        assert scanned.status_code == 200
        assert scanned.headers["content-type"].startswith("text/html")
    for password in (OWNER_PASSWORD, ATTACKER_PASSWORD):
        assert (await attempt(client, email, password)).status_code in {401, 403}

    verified = await client.post("/auth/verify-email", json={"token": owners_link.token})
    assert verified.status_code == 200, verified.text
    owner_login = await attempt(client, email, OWNER_PASSWORD)
    assert owner_login.status_code == 200
    attacker_login = await attempt(client, email, ATTACKER_PASSWORD)
    assert attacker_login.status_code == 401
    assert attacker_login.json()["code"] == "INVALID_CREDENTIALS"
    me = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {owner_login.json()['access_token']}"}
    )
    assert me.json()["full_name"] == "Ada Lovelace"

    late = await client.post("/auth/verify-email", json={"token": attackers_link.token})
    assert late.status_code == 400
    assert late.json()["code"] == "INVALID_TOKEN"
    assert (await attempt(client, email, ATTACKER_PASSWORD)).status_code == 401


async def test_registrations_racing_the_owners_verification_change_nothing(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    """Many registrations of the address in flight, on two instances, while the owner's
    link is followed: whatever order they land in, the owner's password is the account's."""
    async with two_instances(app, make_app) as (first, second):
        for round_number in range(5):
            email = unique_email(f"contested-{round_number}")
            assert (await register(first, email, password=OWNER_PASSWORD)).status_code == 202
            owners_link = await mailbox.last(email, VERIFY)
            answers = await asyncio.gather(
                first.post("/auth/verify-email", json={"token": owners_link.token}),
                *(
                    (first, second)[index % 2].post(
                        "/auth/register",
                        json={"email": email, "password": f"{ATTACKER_PASSWORD} {index}"},
                    )
                    for index in range(6)
                ),
            )
            assert answers[0].status_code == 200, answers[0].text
            assert all(answer.status_code == 202 for answer in answers[1:])
            assert (await attempt(second, email, OWNER_PASSWORD)).status_code == 200
            for index in range(6):
                attacker_login = await attempt(first, email, f"{ATTACKER_PASSWORD} {index}")
                assert attacker_login.status_code == 401

"""Races decided by the database, not by process memory: of many concurrent presentations
of one refresh token (or one reset link), across two app instances on one PostgreSQL,
exactly one wins; for a refresh token the rest count as reuse and end the session."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory, two_instances
from tests.mailbox import Mailbox
from tests.services import BACKENDS
from tests.support import (
    PASSWORD,
    Account,
    count_events,
    login,
    register_verified,
)

POSTGRES = [backend for backend in BACKENDS if backend == "postgresql"]
ROUNDS = 5
PRESENTERS = 10
RACE_LIMIT_SECONDS = 60
"""Not a timing assertion: only a guard so that a deadlock fails instead of stalling the run."""


async def race_one_refresh_token(
    clients: list[httpx.AsyncClient], account: Account, presenters: int
) -> None:
    """One token, `presenters` requests at once spread over `clients`: one new pair, and
    the reuse by the others ends the session, the winner's new tokens included."""
    body = {"refresh_token": account.refresh_token}
    async with asyncio.timeout(RACE_LIMIT_SECONDS):
        answers = await asyncio.gather(
            *(
                clients[index % len(clients)].post("/auth/refresh", json=body)
                for index in range(presenters)
            )
        )
    statuses = Counter(response.status_code for response in answers)
    assert statuses == {200: 1, 401: presenters - 1}, [r.text for r in answers]
    for response in answers:
        if response.status_code == 401:
            assert response.json()["code"] == "INVALID_TOKEN"
    [winner] = [response.json() for response in answers if response.status_code == 200]
    refused = await clients[0].post(
        "/auth/refresh", json={"refresh_token": winner["refresh_token"]}
    )
    assert refused.status_code == 401
    me = await clients[-1].get(
        "/users/me", headers={"Authorization": f"Bearer {winner['access_token']}"}
    )
    assert me.status_code == 401
    assert me.json()["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize("database", POSTGRES, indirect=True)
async def test_concurrent_refreshes_across_two_instances_have_exactly_one_winner(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    async with two_instances(app, make_app) as (first, second):
        account = await register_verified(first, mailbox)
        for round_number in range(1, ROUNDS + 1):
            await login(first if round_number % 2 else second, account)
            await race_one_refresh_token([first, second], account, PRESENTERS)
            reuses = await count_events(app, account.email, "refresh_reuse_detected")
            assert reuses == round_number


async def test_concurrent_refreshes_on_one_instance_have_exactly_one_winner(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await login(client, await register_verified(client, mailbox))
    await race_one_refresh_token([client], account, PRESENTERS)
    assert await count_events(app, account.email, "refresh_reuse_detected") == 1


@pytest.mark.parametrize("database", POSTGRES, indirect=True)
async def test_a_reset_link_used_twice_at_once_resets_once(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    async with two_instances(app, make_app) as (first, second):
        account = await register_verified(first, mailbox)
        requested = await first.post("/auth/forgot-password", json={"email": account.email})
        assert requested.status_code == 202
        token = (await mailbox.last(account.email, "Reset")).token
        passwords = ["first racing passphrase", "second racing passphrase"]
        async with asyncio.timeout(RACE_LIMIT_SECONDS):
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/auth/reset-password", json={"token": token, "new_password": password}
                    )
                    for http, password in zip((first, second), passwords, strict=True)
                )
            )
        statuses = sorted(response.status_code for response in answers)
        assert statuses == [200, 400], [response.text for response in answers]
        [loser] = [response for response in answers if response.status_code == 400]
        assert loser.json()["code"] == "INVALID_TOKEN"
        [winning_password] = [
            password
            for password, response in zip(passwords, answers, strict=True)
            if response.status_code == 200
        ]
        losing_password = next(password for password in passwords if password != winning_password)
        for password, expected in (
            (losing_password, 401),
            (PASSWORD, 401),
            (winning_password, 200),
        ):
            attempt = await second.post(
                "/auth/login", json={"email": account.email, "password": password}
            )
            assert attempt.status_code == expected, (password, attempt.text)
        assert await count_events(app, account.email, "password_reset") == 1

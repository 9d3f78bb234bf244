"""POST /auth/refresh: rotation, single use, and reuse ending the whole session."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
from fastapi import FastAPI

from fastapi_auth.kernel.fast_path import FastPath
from tests.mailbox import Mailbox
from tests.support import (
    Account,
    assert_invalid_token,
    bearer,
    count_calls,
    logged_in,
    login,
    part_of,
    refresh,
    update_user,
)


async def me(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get("/users/me", headers=bearer(access_token))


async def test_a_valid_refresh_returns_a_new_pair_that_works(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    response = await refresh(client, account.refresh_token)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert pair["access_token"] != account.access_token
    assert pair["refresh_token"] != account.refresh_token
    assert (await me(client, pair["access_token"])).json()["email"] == account.email
    following = await refresh(client, pair["refresh_token"])
    assert following.status_code == 200
    assert (await me(client, following.json()["access_token"])).status_code == 200


async def test_reuse_of_a_spent_token_ends_that_session_at_once(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Two holders of one refresh token means one is a thief: neither keeps the session,
    and no other session of the account is touched."""
    account = await logged_in(client, mailbox)
    other_device = await login(client, Account(account.email, account.password))
    rotated = (await refresh(client, account.refresh_token)).json()
    assert_invalid_token(await refresh(client, account.refresh_token))

    assert_invalid_token(await refresh(client, rotated["refresh_token"]))
    assert_invalid_token(await me(client, rotated["access_token"]))
    assert_invalid_token(await me(client, account.access_token))

    assert (await me(client, other_device.access_token)).status_code == 200
    assert (await refresh(client, other_device.refresh_token)).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["", "x", "r" * 257, "t" * 4096, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"],
    ids=["empty", "short", "just-too-long", "4-kib", "a-jwt"],
)
async def test_any_string_that_is_not_a_live_refresh_token_is_401(
    client: httpx.AsyncClient, token: str
) -> None:
    """Whatever its length or shape (an access token sent by mistake, say)."""
    assert_invalid_token(await refresh(client, token))


async def test_an_access_token_in_place_of_a_refresh_token_is_401(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    assert_invalid_token(await refresh(client, account.access_token))


async def test_an_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    assert_invalid_token(await refresh(client, secrets.token_urlsafe(32)))


async def test_refresh_after_logout_is_401(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await logged_in(client, mailbox)
    logout = await client.post(
        "/users/logout", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert logout.status_code == 204
    assert_invalid_token(await refresh(client, account.refresh_token))


async def test_a_disabled_or_unverified_account_cannot_refresh(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Refused without spending the token: restored, the account refreshes as before."""
    account = await logged_in(client, mailbox)
    await update_user(app, account.email, is_active=False)
    assert_invalid_token(await refresh(client, account.refresh_token))
    await update_user(app, account.email, is_active=True, is_verified=False)
    assert_invalid_token(await refresh(client, account.refresh_token))
    await update_user(app, account.email, is_verified=True)
    assert (await refresh(client, account.refresh_token)).status_code == 200


async def test_refreshes_made_at_once_each_rotate_their_own_session(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite they share one transaction (`RefreshRotations`), which must still give
    each presenter the next pair of its own session, and a token presented twice in it
    to one presenter only."""
    accounts = [await logged_in(client, mailbox) for _ in range(4)]
    writer = part_of(app, FastPath).sqlite_writer
    transactions = None if writer is None else count_calls(monkeypatch, writer, "transaction")
    tokens = [account.refresh_token for account in accounts] + [accounts[0].refresh_token]
    answers = await asyncio.gather(*(refresh(client, token) for token in tokens))
    if transactions is not None:
        assert transactions.calls == 1
    for account, answer in zip(accounts[1:], answers[1:4], strict=True):
        assert answer.status_code == 200, answer.text
        assert (await me(client, answer.json()["access_token"])).json()["email"] == account.email
    first, twice = answers[0], answers[4]
    assert sorted([first.status_code, twice.status_code]) == [200, 401]
    winner = first if first.status_code == 200 else twice
    assert_invalid_token(await me(client, winner.json()["access_token"]))

"""POST /users/logout: ends the session its refresh token belongs to, and only that one."""

from __future__ import annotations

import httpx

from tests.mailbox import Mailbox
from tests.support import Account, assert_invalid_token, logged_in, login, refresh


async def logout(client: httpx.AsyncClient, account: Account, refresh_token: str) -> httpx.Response:
    return await client.post(
        "/users/logout", json={"refresh_token": refresh_token}, headers=account.headers
    )


async def test_logout_ends_this_session_and_no_other(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    here = await logged_in(client, mailbox)
    elsewhere = await login(client, Account(here.email, here.password))
    response = await logout(client, here, here.refresh_token)
    assert response.status_code == 204
    assert response.content == b""

    assert_invalid_token(await client.get("/users/me", headers=here.headers))
    assert_invalid_token(await refresh(client, here.refresh_token))

    assert (await client.get("/users/me", headers=elsewhere.headers)).status_code == 200
    assert (await refresh(client, elsewhere.refresh_token)).status_code == 200


async def test_another_users_refresh_token_is_refused_and_left_alive(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    mallory = await logged_in(client, mailbox)
    victim = await logged_in(client, mailbox)
    assert_invalid_token(await logout(client, mallory, victim.refresh_token))
    assert (await client.get("/users/me", headers=victim.headers)).status_code == 200
    assert (await client.get("/users/me", headers=mallory.headers)).status_code == 200
    assert (await refresh(client, victim.refresh_token)).status_code == 200


async def test_logout_needs_a_token_and_a_known_refresh_token(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    anonymous = await client.post("/users/logout", json={"refresh_token": account.refresh_token})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "NOT_AUTHENTICATED"
    assert_invalid_token(await logout(client, account, "no-such-refresh-token"))
    assert (await refresh(client, account.refresh_token)).status_code == 200

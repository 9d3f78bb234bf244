"""POST /users/change-password: proves the current password, keeps this session and ends
every other one."""

from __future__ import annotations

import httpx

from tests.mailbox import Mailbox
from tests.support import Account, logged_in, login, refresh

NEW_PASSWORD = "a brand new passphrase"


async def change(
    client: httpx.AsyncClient, account: Account, current: str, new: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/users/change-password",
        json={"current_password": current, "new_password": new},
        headers=account.headers,
    )


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_a_wrong_current_password_is_400_and_changes_nothing(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    response = await change(client, account, "not my password at all")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_PASSWORD"
    assert "not my password at all" not in response.text
    assert (await attempt(client, account.email, account.password)).status_code == 200
    assert (await attempt(client, account.email, NEW_PASSWORD)).status_code == 401


async def test_a_change_keeps_this_session_and_ends_every_other(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    here = await logged_in(client, mailbox)
    elsewhere = await login(client, Account(here.email, here.password))
    response = await change(client, here, here.password)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"detail"}

    gone = await client.get("/users/me", headers=elsewhere.headers)
    assert gone.status_code == 401
    assert gone.json()["code"] == "INVALID_TOKEN"
    assert (await refresh(client, elsewhere.refresh_token)).status_code == 401

    assert (await client.get("/users/me", headers=here.headers)).status_code == 200
    assert (await refresh(client, here.refresh_token)).status_code == 200

    assert (await attempt(client, here.email, NEW_PASSWORD)).status_code == 200
    old = await attempt(client, here.email, here.password)
    assert old.status_code == 401
    assert old.json()["code"] == "INVALID_CREDENTIALS"


async def test_a_weak_new_password_is_422(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await logged_in(client, mailbox)
    for weak in ("password123", "Zq9!x", account.email, account.email.split("@")[0]):
        response = await change(client, account, account.password, weak)
        assert response.status_code == 422, (weak, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "new_password"]
        assert weak not in response.text
    assert (await attempt(client, account.email, account.password)).status_code == 200


async def test_change_password_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users/change-password",
        json={"current_password": "whatever it was", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"

"""The bearer token on GET /users/me: every forgery the server could be fooled by is 401.

Each forgery starts from a genuine token's claims and is signed with the server's own
key unless the case is about the key, so the one thing changed is what gets it refused.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from fastapi_auth.kernel.fast_path import FastPath
from tests.flows.conftest import tampered
from tests.mailbox import Mailbox
from tests.support import bearer, count_calls, logged_in, part_of, settings_of


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def assert_refused(response: httpx.Response, code: str, case: str = "") -> None:
    assert response.status_code == 401, (case, response.text)
    assert response.json()["code"] == code, case
    assert response.headers["WWW-Authenticate"] == "Bearer", case


async def test_a_missing_token_is_not_authenticated(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get("/users/me"), "NOT_AUTHENTICATED")
    empty = await client.get("/users/me", headers={"Authorization": "Bearer "})
    assert_refused(empty, "NOT_AUTHENTICATED")
    basic = await client.get("/users/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_refused(basic, "NOT_AUTHENTICATED")


async def test_forged_tokens_are_invalid(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    secret = settings_of(app).signing_secret
    claims = claims_of(account.access_token)
    now = int(time.time())

    def signed(key: str = secret, algorithm: str = "HS256", **changes: Any) -> str:
        forged = {**claims, **changes}
        return jwt.encode({k: v for k, v in forged.items() if v is not None}, key, algorithm)

    control = await client.get("/users/me", headers=bearer(signed()))
    assert control.status_code == 200, "the forging itself must be faithful"

    forgeries = {
        "tampered": tampered(account.access_token),
        "expired": signed(iat=now - 3600, exp=now - 60),
        "alg none": jwt.encode(claims, "", algorithm="none"),
        "alg none, signature kept": jwt.encode(claims, "", algorithm="none")
        + account.access_token.rsplit(".", 1)[1],
        "HS512 with the right key": signed(algorithm="HS512"),
        "typ refresh": signed(typ="refresh"),
        "no typ": signed(typ=None),
        "wrong audience": signed(aud="some-other-service"),
        "no audience": signed(aud=None),
        "wrong issuer": signed(iss="someone-else"),
        "other secret": signed(key=secrets.token_urlsafe(48)),
        "unknown session": signed(sid=str(uuid.uuid4())),
        "session of another user id": signed(sub=str(uuid.uuid4())),
        "no expiry": signed(exp=None),
        "not a uuid": signed(sub="admin"),
        "not a JWT": "not-a-jwt",
    }
    for case, token in forgeries.items():
        assert_refused(await client.get("/users/me", headers=bearer(token)), "INVALID_TOKEN", case)


async def test_logout_ends_the_access_token_at_once(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Not when it expires: its session is checked on every request."""
    account = await logged_in(client, mailbox)
    assert (await client.get("/users/me", headers=account.headers)).status_code == 200
    logout = await client.post(
        "/users/logout", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert logout.status_code == 204
    assert_refused(await client.get("/users/me", headers=account.headers), "INVALID_TOKEN")


async def test_checks_made_at_once_share_one_query_and_each_gets_its_own_answer(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent requests' session checks go to the database together (`Coalesced`);
    mixing them must not hand one request another's user, nor let an ended session or a
    token naming someone else's session through."""
    accounts = [await logged_in(client, mailbox) for _ in range(3)]
    ended = await logged_in(client, mailbox)
    logout = await client.post(
        "/users/logout", json={"refresh_token": ended.refresh_token}, headers=ended.headers
    )
    assert logout.status_code == 204
    secret = settings_of(app).signing_secret
    someone_elses_session = jwt.encode(
        {**claims_of(accounts[0].access_token), "sid": claims_of(accounts[1].access_token)["sid"]},
        secret,
        "HS256",
    )
    queries = count_calls(monkeypatch, part_of(app, FastPath), "on_driver")
    tokens = [account.access_token for account in accounts] * 2
    tokens += [ended.access_token, someone_elses_session]
    responses = await asyncio.gather(
        *(client.get("/users/me", headers=bearer(token)) for token in tokens)
    )
    assert queries.calls == 1
    assert [response.json()["email"] for response in responses[:6]] == [
        account.email for account in accounts
    ] * 2
    assert_refused(responses[6], "INVALID_TOKEN", "ended session")
    assert_refused(responses[7], "INVALID_TOKEN", "another user's session")

"""POST /auth/login: both request shapes, one answer for every wrong guess, and the
password hashing behind it (constant work, off the event loop, legacy bcrypt upgraded)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from fastapi_auth.kernel.password_gate import PasswordGate
from fastapi_auth.kernel.passwords import PasswordHasher, Verification
from tests.mailbox import Mailbox
from tests.support import (
    PASSWORD,
    logged_in,
    part_of,
    register,
    register_verified,
    stored_user,
    unique_email,
    update_user,
)

TOKEN_PAIR_FIELDS = {"access_token", "refresh_token", "token_type", "expires_in"}


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


def assert_token_pair(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == TOKEN_PAIR_FIELDS
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"]


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_json_and_oauth2_form_logins_return_a_token_pair(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    as_json = await attempt(client, account.email, account.password)
    as_form = await client.post(
        "/auth/login",
        data={"grant_type": "password", "username": account.email, "password": account.password},
    )
    for response in (as_json, as_form):
        assert_token_pair(response)
        me = await client.get(
            "/users/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
        )
        assert me.json()["email"] == account.email
    assert as_json.json()["refresh_token"] != as_form.json()["refresh_token"]


async def test_the_email_is_matched_whatever_its_case(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    assert_token_pair(await attempt(client, account.email.upper(), account.password))


async def test_unknown_email_and_wrong_password_get_the_same_401(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    unknown = await attempt(client, unique_email("nobody"), account.password)
    wrong = await attempt(client, account.email, "not the right passphrase")
    assert_refused(unknown, 401, "INVALID_CREDENTIALS")
    assert unknown.json() == wrong.json()
    assert unknown.status_code == wrong.status_code
    assert unknown.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"] == "Bearer"


async def test_account_state_is_told_only_to_whoever_knows_the_password(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A wrong password never reveals that an account is unverified or disabled."""
    unverified = unique_email()
    await register(client, unverified)
    assert_refused(
        await attempt(client, unverified, "not the password"), 401, "INVALID_CREDENTIALS"
    )
    assert_refused(await attempt(client, unverified, PASSWORD), 403, "EMAIL_NOT_VERIFIED")

    disabled = await logged_in(client, mailbox)
    await update_user(app, disabled.email, is_active=False)
    assert_refused(
        await attempt(client, disabled.email, "not the password"), 401, "INVALID_CREDENTIALS"
    )
    assert_refused(
        await attempt(client, disabled.email, disabled.password), 403, "ACCOUNT_DISABLED"
    )
    me = await client.get("/users/me", headers=disabled.headers)
    assert_refused(me, 403, "ACCOUNT_DISABLED")


async def test_no_response_carries_a_password_hash_or_token_digest(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox, full_name="Ada Lovelace")
    stored_hash = (await stored_user(app, account.email)).password_hash
    responses = [
        await attempt(client, account.email, account.password),
        await attempt(client, account.email, "not the right passphrase"),
        await client.post(
            "/auth/login", data={"username": account.email, "password": account.password}
        ),
        await client.get("/users/me", headers=account.headers),
        await client.patch("/users/me", json={"full_name": "Ada"}, headers=account.headers),
        await client.post("/auth/refresh", json={"refresh_token": account.refresh_token}),
        await client.post("/auth/refresh", json={"refresh_token": account.refresh_token}),
    ]
    digest = hashlib.sha256(account.refresh_token.encode()).hexdigest()
    for response in responses:
        text = response.text
        assert stored_hash not in text
        assert "$argon2" not in text
        assert "password_hash" not in text
        assert digest not in text
        assert account.password not in text


# -- the hashing behind login ------------------------------------------------------------


@dataclass
class CountingHasher:
    """The `PasswordHasher` seam with a tally of what each request asked of it."""

    inner: PasswordHasher
    calls: list[str] = field(default_factory=list)

    async def hash(self, password: str) -> str:
        self.calls.append("hash")
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> Verification:
        self.calls.append("verify")
        return await self.inner.verify(password, password_hash)

    async def verify_dummy(self, password: str) -> None:
        self.calls.append("verify_dummy")
        await self.inner.verify_dummy(password)


@pytest.fixture
def counting_hasher(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    gate = part_of(app, PasswordGate)
    spy = CountingHasher(gate.hasher)
    monkeypatch.setattr(gate, "hasher", spy)
    return spy


@dataclass
class HashingWork:
    """Every call into pwdlib's hashers (where the CPU goes), with the thread it ran on."""

    calls: list[tuple[str, int]] = field(default_factory=list)

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]


@pytest.fixture
def hashing_work(monkeypatch: pytest.MonkeyPatch) -> HashingWork:
    work = HashingWork()

    def recorded(operation: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            work.calls.append((operation, threading.get_ident()))
            return original(*args, **kwargs)

        return wrapper

    for hasher in (Argon2Hasher, BcryptHasher):
        monkeypatch.setattr(hasher, "hash", recorded("hash", hasher.hash))
        monkeypatch.setattr(hasher, "verify", recorded("verify", hasher.verify))
    return work


async def test_an_unknown_email_costs_exactly_one_password_verification(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    counting_hasher: CountingHasher,
    hashing_work: HashingWork,
) -> None:
    """The same work as a wrong password, so the answer's timing tells nothing."""
    account = await register_verified(client, mailbox)
    for email in (unique_email("nobody"), account.email):
        counting_hasher.calls.clear()
        hashing_work.calls.clear()
        response = await attempt(client, email, "not the right passphrase")
        assert_refused(response, 401, "INVALID_CREDENTIALS")
        assert len(counting_hasher.calls) == 1, (email, counting_hasher.calls)
        assert counting_hasher.calls[0] in {"verify", "verify_dummy"}
        assert hashing_work.operations() == ["verify"], email


async def test_password_hashing_runs_off_the_event_loop(
    client: httpx.AsyncClient, mailbox: Mailbox, hashing_work: HashingWork
) -> None:
    loop_thread = threading.get_ident()
    account = await logged_in(client, mailbox)
    await attempt(client, unique_email("nobody"), PASSWORD)
    changed = await client.post(
        "/users/change-password",
        json={"current_password": account.password, "new_password": "a brand new passphrase"},
        headers=account.headers,
    )
    assert changed.status_code == 200
    assert {"hash", "verify"} <= set(hashing_work.operations())
    threads = {thread for _, thread in hashing_work.calls}
    assert loop_thread not in threads


LEGACY_ROUNDS = 4


def legacy_bcrypt(password: str) -> str:
    """What the seed stored: bcrypt read only the first 72 bytes of the password."""
    return BcryptHasher(rounds=LEGACY_ROUNDS).hash(password.encode()[:72])


async def test_a_bcrypt_hash_logs_in_and_is_rehashed_to_argon2id(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    for prefix in ("$2b$", "$2a$", "$2y$"):
        legacy = prefix + legacy_bcrypt(account.password)[4:]
        await update_user(app, account.email, password_hash=legacy)
        assert_token_pair(await attempt(client, account.email, account.password))
        assert (await stored_user(app, account.email)).password_hash.startswith("$argon2id$")
    assert_token_pair(await attempt(client, account.email, account.password))


@pytest.mark.parametrize(
    "first_72_bytes",
    [
        pytest.param(("legacy seed passphrase " * 4)[:72], id="ascii"),
        pytest.param("ü" * 36, id="two-byte-characters"),
    ],
)
async def test_bcrypt_does_not_accept_a_password_that_only_shares_72_bytes(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, first_72_bytes: str
) -> None:
    assert len(first_72_bytes.encode()) == 72
    account = await register_verified(client, mailbox)
    await update_user(
        app, account.email, password_hash=legacy_bcrypt(first_72_bytes + " the owner's tail")
    )
    guess = await attempt(client, account.email, first_72_bytes + " someone else's tail")
    assert_refused(guess, 401, "INVALID_CREDENTIALS")
    assert (await stored_user(app, account.email)).password_hash.startswith("$2b$")
    assert_token_pair(await attempt(client, account.email, first_72_bytes))


async def test_a_form_login_without_a_username_is_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/auth/login", data={"password": "whatever it is"})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "username"]]
    assert "whatever it is" not in response.text

"""Second factors over HTTP: an account with its authenticator app on, a clock the TOTP
checks read (so a test moves from one 30-second step to the next without waiting), and
the two steps of a login."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import httpx
import pyotp
import pytest

from tests.mailbox import Mailbox
from tests.support import Account, bearer, logged_in

STEP = 30


@dataclass
class Clock:
    """What `time.time()` answers inside `fastapi_auth.mfa.one_time_codes`."""

    now: float

    def time(self) -> float:
        return self.now

    def advance(self, steps: int = 1) -> None:
        self.now += steps * STEP

    @property
    def step(self) -> int:
        return int(self.now // STEP)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Frozen in the middle of the current step; moves only when the test says so."""
    frozen = Clock(now=(time.time() // STEP) * STEP + STEP / 2)
    monkeypatch.setattr("fastapi_auth.mfa.one_time_codes.time", SimpleNamespace(time=frozen.time))
    return frozen


@dataclass
class MfaAccount:
    account: Account
    secret: str
    recovery_codes: list[str]
    clock: Clock
    used_codes: list[str] = field(default_factory=list)

    @property
    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.secret)

    def code(self, steps_from_now: int = 0) -> str:
        """The app's code of the step `steps_from_now` away from the clock's."""
        return self.totp.at(self.clock.now + steps_from_now * STEP)

    def fresh_code(self) -> str:
        """A code of a step no code was accepted for yet: the clock moves one step on."""
        self.clock.advance()
        return self.code()

    @property
    def headers(self) -> dict[str, str]:
        return self.account.headers


async def setup_totp(
    client: httpx.AsyncClient, account: Account, password: str | None = None
) -> httpx.Response:
    return await client.post(
        "/users/me/mfa/totp/setup",
        json={"password": account.password if password is None else password},
        headers=account.headers,
    )


async def confirm_totp(client: httpx.AsyncClient, account: Account, code: str) -> httpx.Response:
    return await client.post(
        "/users/me/mfa/totp/confirm", json={"code": code}, headers=account.headers
    )


async def enable_totp(client: httpx.AsyncClient, account: Account, clock: Clock) -> MfaAccount:
    setup = await setup_totp(client, account)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    confirmed = await confirm_totp(client, account, pyotp.TOTP(secret).at(clock.now))
    assert confirmed.status_code == 200, confirmed.text
    return MfaAccount(account, secret, confirmed.json()["recovery_codes"], clock)


async def mfa_account(client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock) -> MfaAccount:
    """A verified, signed-in account whose authenticator app is on (its first code's step
    spent by the confirmation)."""
    return await enable_totp(client, await logged_in(client, mailbox), clock)


async def password_step(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await client.post(
        "/auth/login", json={"email": account.email, "password": account.password}
    )


async def mfa_token(client: httpx.AsyncClient, account: Account) -> str:
    """The `mfa_token` of a login whose password was right."""
    asked = await password_step(client, account)
    assert asked.status_code == 403, asked.text
    assert asked.json()["code"] == "MFA_REQUIRED"
    token: str = asked.json()["mfa_token"]
    return token


async def second_step(client: httpx.AsyncClient, token: str, code: str) -> httpx.Response:
    return await client.post("/auth/login/mfa", json={"mfa_token": token, "code": code})


async def full_login(client: httpx.AsyncClient, mfa: MfaAccount, code: str) -> Account:
    """Both steps; the account signed in on a new session."""
    done = await second_step(client, await mfa_token(client, mfa.account), code)
    assert done.status_code == 200, done.text
    body = done.json()
    return Account(mfa.account.email, mfa.account.password, **_tokens(body))


def _tokens(body: dict[str, str]) -> dict[str, str]:
    return {"access_token": body["access_token"], "refresh_token": body["refresh_token"]}


async def event_types(client: httpx.AsyncClient, account: Account) -> list[str]:
    response = await client.get("/users/me/security-events", headers=account.headers)
    assert response.status_code == 200, response.text
    return [item["event_type"] for item in response.json()["items"]]


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/users/me", headers=bearer(token))


def assert_code_refused(response: httpx.Response, status: int = 401) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == "INVALID_MFA_CODE"


def assert_token_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "INVALID_TOKEN"

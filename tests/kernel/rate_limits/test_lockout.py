"""Failed logins lock an account at the attacking address, longer each time; the owner
elsewhere is not locked out, and a password reset ends every lock."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import http_client
from tests.kernel.rate_limits.conftest import LimitedAppFactory
from tests.mailbox import Mailbox
from tests.support import Account, register_verified

ATTACKER = ("203.0.113.66", 50000)
OWNER = ("192.0.2.10", 50000)
NEW_PASSWORD = "a brand new passphrase"
NO_IP_LIMIT = "1000/minute"


async def attempt(http: httpx.AsyncClient, account: Account, password: str) -> httpx.Response:
    return await http.post("/auth/login", json={"email": account.email, "password": password})


async def wrong(http: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await attempt(http, account, "definitely not it")


def locked_for(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "RATE_LIMITED"
    return int(response.headers["Retry-After"])


async def test_failed_logins_lock_with_exponential_back_off(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Locked, even for the right password; each failure after a lock doubles the next."""
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT,
        lockout_threshold=2,
        lockout_base_seconds=1,
        lockout_max_seconds=60,
    )
    lock_lengths: list[int] = []
    async with http_client(app, client=ATTACKER) as attacker:
        assert (await wrong(attacker, account)).status_code == 401
        assert (await wrong(attacker, account)).status_code == 401
        while True:
            lock_lengths.append(locked_for(await attempt(attacker, account, account.password)))
            if len(lock_lengths) == 3:
                break
            await asyncio.sleep(lock_lengths[-1] + 0.1)
            assert (await wrong(attacker, account)).status_code == 401
    assert lock_lengths == [1, 2, 4]


async def test_a_lock_ends_and_a_correct_password_starts_the_count_over(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT,
        lockout_threshold=1,
        lockout_base_seconds=1,
        lockout_max_seconds=60,
    )
    async with http_client(app, client=ATTACKER) as attacker:
        assert (await wrong(attacker, account)).status_code == 401
        await asyncio.sleep(locked_for(await wrong(attacker, account)) + 0.1)
        assert (await attempt(attacker, account, account.password)).status_code == 200
        assert (await wrong(attacker, account)).status_code == 401
        assert locked_for(await wrong(attacker, account)) == 1


async def test_lock_is_capped_at_lockout_max_seconds(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT,
        lockout_threshold=1,
        lockout_base_seconds=600,
        lockout_max_seconds=90,
    )
    async with http_client(app, client=ATTACKER) as attacker:
        assert (await wrong(attacker, account)).status_code == 401
        assert 80 <= locked_for(await wrong(attacker, account)) <= 90


async def test_a_lockout_at_one_address_leaves_the_owner_elsewhere_alone(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT, lockout_threshold=3, lockout_base_seconds=300
    )
    async with http_client(app, client=ATTACKER) as attacker:
        for _ in range(3):
            assert (await wrong(attacker, account)).status_code == 401
        locked_for(await attempt(attacker, account, account.password))
    async with http_client(app, client=OWNER) as owner:
        assert (await attempt(owner, account, account.password)).status_code == 200


async def test_a_password_reset_lifts_the_lockout(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT, lockout_threshold=2, lockout_base_seconds=300
    )
    async with http_client(app, client=ATTACKER) as attacker:
        for _ in range(2):
            assert (await wrong(attacker, account)).status_code == 401
        locked_for(await attempt(attacker, account, account.password))
        forgot = await attacker.post("/auth/forgot-password", json={"email": account.email})
        assert forgot.status_code == 202
        link = await mailbox.last(account.email, "Reset")
        reset = await attacker.post(
            "/auth/reset-password", json={"token": link.token, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 200, reset.text
        assert (await attempt(attacker, account, NEW_PASSWORD)).status_code == 200


async def test_failures_from_many_addresses_are_capped_per_account(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A botnet spreading guesses over addresses still gets only so many per account."""
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT,
        lockout_threshold=100,
        rate_limit_failed_logins_per_account="3/hour",
    )
    for host in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        async with http_client(app, client=(host, 1234)) as bot:
            assert (await wrong(bot, account)).status_code == 401
    async with http_client(app, client=("203.0.113.4", 1234)) as bot:
        assert 1 <= locked_for(await attempt(bot, account, account.password)) <= 3600

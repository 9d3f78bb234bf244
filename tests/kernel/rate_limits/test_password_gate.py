"""One gate for every password check: login, change password, account deletion and
email change share one lockout and one per-account cap, each failure is in the
security log, and concurrent guesses are counted before any of them is evaluated."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI

from fastapi_auth.kernel.password_gate import PasswordGate
from tests.conftest import AppFactory, http_client
from tests.kernel.rate_limits.conftest import LimitedAppFactory
from tests.mailbox import Mailbox
from tests.services import REDIS_AVAILABLE, REDIS_URL
from tests.support import Account, count_events, login, part_of, queued_subjects, register_verified
from tests.support import unique_email as new_address

ATTACKER = ("203.0.113.66", 50000)
WRONG = "definitely not the password"
NO_IP_LIMIT = "100000/minute"


async def wrong_guess(http: httpx.AsyncClient, route: str, account: Account) -> httpx.Response:
    if route == "login":
        return await http.post("/auth/login", json={"email": account.email, "password": WRONG})
    if route == "change-password":
        body = {"current_password": WRONG, "new_password": "whatever comes next"}
        return await http.post("/users/change-password", json=body, headers=account.headers)
    if route == "delete":
        return await http.request(
            "DELETE", "/users/me", json={"password": WRONG}, headers=account.headers
        )
    body = {"email": new_address("elsewhere"), "current_password": WRONG}
    return await http.patch("/users/me", json=body, headers=account.headers)


ROUTES = ["login", "change-password", "delete", "email-change"]
FAILED_EVENT = {"login": "login_failed"}


@pytest.mark.parametrize("route", ROUTES)
async def test_guessing_behind_a_token_is_locked_out_and_logged(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox, route: str
) -> None:
    """Three wrong passwords at any route lock the account at that address for every
    route, login included (even with the right password)."""
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT, lockout_threshold=3, lockout_base_seconds=300
    )
    async with http_client(app, client=ATTACKER) as attacker:
        await login(attacker, account)
        statuses = [(await wrong_guess(attacker, route, account)).status_code for _ in range(5)]
        assert statuses[:3] == [401 if route == "login" else 400] * 3, statuses
        assert statuses[3:] == [429, 429]
        for other in ROUTES:
            locked = await wrong_guess(attacker, other, account)
            assert locked.status_code == 429, (other, locked.text)
            assert locked.json()["code"] == "RATE_LIMITED"
            assert int(locked.headers["Retry-After"]) > 0
        right = await attacker.post(
            "/auth/login", json={"email": account.email, "password": account.password}
        )
        assert right.status_code == 429
    event = FAILED_EVENT.get(route, "password_check_failed")
    assert await count_events(app, account.email, event) == 3


async def test_every_route_logs_its_failed_password_checks(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await login(client, await register_verified(client, mailbox))
    for route in ROUTES:
        response = await wrong_guess(client, route, account)
        assert response.status_code in {400, 401}, (route, response.text)
    events = await client.get("/users/me/security-events", headers=account.headers)
    types = Counter(item["event_type"] for item in events.json()["items"])
    assert types["login_failed"] == 1
    assert types["password_check_failed"] == 3


def hashes_evaluated(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every verification the gate asks of the hasher (a wrong guess that got through)."""
    gate = part_of(app, PasswordGate)
    seen: list[str] = []
    verify = gate.hasher.verify

    async def counted(password: str, password_hash: str) -> object:
        seen.append(password)
        return await verify(password, password_hash)

    monkeypatch.setattr(gate.hasher, "verify", counted)
    return seen


async def test_a_burst_of_guesses_from_one_address_evaluates_only_the_threshold(
    limited_app: LimitedAppFactory,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT, lockout_threshold=5, lockout_base_seconds=300
    )
    evaluated = hashes_evaluated(app, monkeypatch)
    async with http_client(app, client=ATTACKER) as attacker:
        answers = await asyncio.gather(
            *(wrong_guess(attacker, "login", account) for _ in range(40))
        )
    assert Counter(answer.status_code for answer in answers) == {401: 5, 429: 35}
    assert len(evaluated) == 5
    assert await count_events(app, account.email, "login_failed") == 5


async def test_a_burst_from_many_addresses_evaluates_only_the_account_cap(
    limited_app: LimitedAppFactory,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = await register_verified(client, mailbox)
    app = await limited_app(
        rate_limit_login=NO_IP_LIMIT,
        lockout_threshold=100,
        rate_limit_failed_logins_per_account="20/hour",
    )
    evaluated = hashes_evaluated(app, monkeypatch)
    bots = [http_client(app, client=(f"198.51.100.{index}", 4000)) for index in range(120)]
    try:
        answers = await asyncio.gather(*(wrong_guess(bot, "login", account) for bot in bots))
    finally:
        await asyncio.gather(*(bot.aclose() for bot in bots))
    assert Counter(answer.status_code for answer in answers) == {401: 20, 429: 100}
    assert len(evaluated) == 20


@pytest.mark.skipif(not REDIS_AVAILABLE, reason="instances share a count through Redis")
async def test_the_count_is_shared_by_instances_on_one_redis(
    make_app: AppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    shared = {
        "rate_limit_enabled": True,
        "redis_url": REDIS_URL,
        "rate_limit_login": NO_IP_LIMIT,
        "lockout_threshold": 4,
        "rate_limit_key_prefix": f"test-shared-{secrets.token_hex(6)}",
    }
    first, second = await make_app(**shared), await make_app(**shared)
    async with (
        http_client(first, client=ATTACKER) as one,
        http_client(second, client=ATTACKER) as two,
    ):
        answers = await asyncio.gather(
            *(wrong_guess((one, two)[index % 2], "login", account) for index in range(30))
        )
    assert Counter(answer.status_code for answer in answers) == {401: 4, 429: 26}


async def test_email_changes_cannot_flood_a_mailbox(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Each change mails the new and the old address: both count against the address
    limit, so 25 requests to one address send it at most the limit's worth."""
    account = await register_verified(client, mailbox, full_name="Mallory the Sender")
    app = await limited_app(rate_limit_emails_per_address="3/hour")
    target = new_address("victim")
    async with http_client(app, client=ATTACKER) as attacker:
        await login(attacker, account)
        statuses = []
        for _ in range(25):
            body = {"email": target, "current_password": account.password}
            response = await attacker.patch("/users/me", json=body, headers=account.headers)
            statuses.append(response.status_code)
    assert statuses[:3] == [200, 200, 200]
    assert set(statuses[3:]) == {429}
    confirmations = await queued_subjects(app, target)
    assert len(confirmations) == 3
    received = await mailbox.wait_for(target, "Confirm", count=3)
    assert all("Mallory" not in message.text for message in received)


async def test_probing_which_addresses_are_taken_is_bounded(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A 409 tells that an address has an account. Without the password a token learns
    nothing (400, counted by the lockout); with it, probes count against the account's
    own email limit, so an hour yields as many answers as that limit, then 429."""
    taken = [await register_verified(client, mailbox) for _ in range(4)]
    account = await register_verified(client, mailbox)
    app = await limited_app(rate_limit_emails_per_address="3/hour", lockout_threshold=3)
    async with http_client(app, client=ATTACKER) as attacker:
        await login(attacker, account)
        blind = await attacker.patch(
            "/users/me", json={"email": taken[0].email}, headers=account.headers
        )
        assert blind.status_code == 400
        answers = []
        for other in [*taken, *taken]:
            body = {"email": other.email, "current_password": account.password}
            response = await attacker.patch("/users/me", json=body, headers=account.headers)
            answers.append(response.status_code)
    assert answers == [409, 409, 409] + [429] * 5

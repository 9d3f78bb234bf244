"""Codes are rate-limited like logins: per client IP and per account (429)."""

from __future__ import annotations

import httpx

from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.mfa.conftest import Clock, mfa_account, mfa_token, second_step


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def test_second_steps_are_limited_per_client_ip(
    make_app: AppFactory, mailbox: Mailbox, clock: Clock
) -> None:
    app = await make_app(rate_limit_enabled=True, rate_limit_login="4/minute")
    async with http_client(app, client=("198.51.100.20", 1)) as setup:
        mfa = await mfa_account(setup, mailbox, clock)
        token = await mfa_token(setup, mfa.account)
    async with http_client(app, client=("198.51.100.21", 1)) as guesser:
        for _ in range(4):
            answer = await second_step(guesser, token, wrong(mfa.code(1)))
            assert answer.status_code == 401, answer.text
        assert_rate_limited(await second_step(guesser, "some-other-token", mfa.code(1)))


async def test_second_steps_are_limited_per_account_across_ips(
    make_app: AppFactory, mailbox: Mailbox, clock: Clock
) -> None:
    """Each guess from another address, each on a fresh `mfa_token`: the account's count
    still fills, and then even the right code waits."""
    app = await make_app(rate_limit_enabled=True, rate_limit_login="3/minute")
    async with http_client(app, client=("198.51.100.30", 1)) as owner:
        mfa = await mfa_account(owner, mailbox, clock)
    right = mfa.fresh_code()
    for index in range(4):
        async with http_client(app, client=(f"203.0.113.{index + 1}", 1)) as one:
            token = await mfa_token(one, mfa.account)
        async with http_client(app, client=(f"203.0.113.{index + 101}", 1)) as other:
            answer = await second_step(other, token, wrong(right) if index < 3 else right)
        if index < 3:
            assert answer.status_code == 401, answer.text
        else:
            assert_rate_limited(answer)

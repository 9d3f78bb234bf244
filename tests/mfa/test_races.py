"""Single use under concurrency: one code, many requests, on one instance and across two
on one database (PostgreSQL, and SQLite): exactly one wins, the rest lose cleanly, and
nothing deadlocks (the lock order is the `mfa_token` row, the account's row, the factor
rows)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from fastapi_auth.mfa.service import MfaService
from tests.conftest import AppFactory, http_client, two_instances
from tests.mailbox import Mailbox
from tests.mfa.conftest import (
    Clock,
    MfaAccount,
    confirm_totp,
    mfa_account,
    mfa_token,
    password_step,
    second_step,
    setup_totp,
)
from tests.support import count_events, hold_password_checks, logged_in

ROUNDS = 4
FAST_HASHING = {"argon2_memory_kib": 8_192, "argon2_time_cost": 1}


def statuses(answers: list[httpx.Response]) -> Counter[int]:
    return Counter(answer.status_code for answer in answers)


def assert_one_winner(answers: list[httpx.Response], losing_codes: set[str]) -> None:
    assert statuses(answers)[200] == 1, [a.text for a in answers]
    losers = [answer for answer in answers if answer.status_code != 200]
    assert {answer.status_code for answer in losers} == {401}, [a.text for a in losers]
    assert {answer.json()["code"] for answer in losers} <= losing_codes


async def tokens_for(clients: list[httpx.AsyncClient], mfa: MfaAccount, count: int) -> list[str]:
    return [await mfa_token(clients[index % len(clients)], mfa.account) for index in range(count)]


async def test_one_totp_code_on_many_logins_at_once_lets_one_in(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    for _ in range(ROUNDS):
        code = mfa.fresh_code()
        tokens = await tokens_for([client], mfa, 8)
        answers = await asyncio.gather(*(second_step(client, token, code) for token in tokens))
        assert_one_winner(list(answers), {"INVALID_MFA_CODE"})


async def test_one_totp_code_on_two_logins_across_two_instances_lets_one_in(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox, clock: Clock
) -> None:
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        mfa = await mfa_account(first, mailbox, clock)
        for _ in range(ROUNDS * 2):
            code = mfa.fresh_code()
            one, other = await mfa_token(first, mfa.account), await mfa_token(second, mfa.account)
            answers = await asyncio.gather(
                second_step(first, one, code), second_step(second, other, code)
            )
            assert_one_winner(list(answers), {"INVALID_MFA_CODE"})


async def test_a_recovery_code_raced_many_times_wins_once(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox, clock: Clock
) -> None:
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        clients = [first, second]
        mfa = await mfa_account(first, mailbox, clock)
        for round_number in range(ROUNDS):
            code = mfa.recovery_codes[round_number]
            tokens = await tokens_for(clients, mfa, 10)
            answers = await asyncio.gather(
                *(
                    second_step(clients[index % 2], token, code)
                    for index, token in enumerate(tokens)
                )
            )
            assert_one_winner(list(answers), {"INVALID_MFA_CODE"})
        assert await count_events(app, mfa.account.email, "recovery_code_used") == ROUNDS
        notices = await mailbox.wait_for(mfa.account.email, "A recovery code", count=ROUNDS)
        assert len(notices) == ROUNDS


async def test_one_mfa_token_raced_many_times_completes_one_login(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox, clock: Clock
) -> None:
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        mfa = await mfa_account(first, mailbox, clock)
        token = await mfa_token(first, mfa.account)
        codes = [mfa.code(+1), *mfa.recovery_codes[:5]]
        answers = await asyncio.gather(
            *(
                second_step((first, second)[index % 2], token, code)
                for index, code in enumerate(codes)
            )
        )
        assert_one_winner(list(answers), {"INVALID_TOKEN", "INVALID_MFA_CODE"})


async def disable(client: httpx.AsyncClient, mfa: MfaAccount, code: str) -> httpx.Response:
    return await client.post(
        "/users/me/mfa/totp/disable",
        json={"password": mfa.account.password, "code": code},
        headers=mfa.headers,
    )


async def test_disable_racing_second_steps_neither_deadlocks_nor_half_applies(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox, clock: Clock
) -> None:
    """Logins at their second step (taking the token's row, then the account's) while the
    owner disables (the account's row, then the factors'): every request answers, and
    either a login got in before the change (its session kept) or it was refused."""
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        for _ in range(ROUNDS):
            mfa = await mfa_account(first, mailbox, clock)
            tokens = await tokens_for([first, second], mfa, 6)
            clock.advance(2)
            login_codes = [*mfa.recovery_codes[:5], mfa.code(-1)]
            async with asyncio.timeout(60):
                *logins, disabled = await asyncio.gather(
                    *(
                        second_step((second, first)[index % 2], token, code)
                        for index, (token, code) in enumerate(zip(tokens, login_codes, strict=True))
                    ),
                    disable(first, mfa, mfa.code()),
                )
            assert disabled.status_code == 200, disabled.text
            assert statuses(list(logins)).keys() <= {200, 401}, [a.text for a in logins]
            for answer in logins:
                if answer.status_code == 200:
                    me = await first.get(
                        "/users/me",
                        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
                    )
                    assert me.status_code == 200, "a login that won keeps its session"
                else:
                    assert answer.json()["code"] == "INVALID_TOKEN"
            plain = await password_step(second, mfa.account)
            assert plain.status_code == 200, plain.text


async def test_regenerations_racing_leave_exactly_one_set(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox, clock: Clock
) -> None:
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        mfa = await mfa_account(first, mailbox, clock)
        answers = await asyncio.gather(
            *(
                (first, second)[index % 2].post(
                    "/users/me/mfa/recovery-codes",
                    json={"password": mfa.account.password, "code": code},
                    headers=mfa.headers,
                )
                for index, code in enumerate(mfa.recovery_codes[:4])
            )
        )
        won = [answer for answer in answers if answer.status_code == 200]
        assert len(won) >= 1
        working = []
        for answer in won:
            for code in answer.json()["recovery_codes"][:1]:
                done = await second_step(first, await mfa_token(first, mfa.account), code)
                if done.status_code == 200:
                    working.append(code)
        assert len(working) == 1, "exactly one of the sets shown is the account's"


# -- confirm racing setup ------------------------------------------------------------------


def hold_factor_changes(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Each `confirm` waits, after checking its code and before taking the account's row,
    until the test releases it."""
    reached, release = asyncio.Event(), asyncio.Event()
    original: Callable[..., Awaitable[int]] = MfaService._change_factors

    async def held(self: MfaService, *args: Any, **kwargs: Any) -> int:
        reached.set()
        await release.wait()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(MfaService, "_change_factors", held)
    return reached, release


async def test_a_setup_that_replaces_the_secret_while_a_confirm_is_in_flight_wins(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tabs: the first's code is being confirmed when the second's setup replaces the
    pending secret. The confirm must not turn on the *second* secret, which no code was
    ever checked against (the owner's app holds the first): it loses."""
    account = await logged_in(client, mailbox)
    first_secret = (await setup_totp(client, account)).json()["secret"]
    reached, release = hold_factor_changes(monkeypatch)
    confirming = asyncio.ensure_future(
        confirm_totp(client, account, pyotp.TOTP(first_secret).at(clock.now))
    )
    await asyncio.wait_for(reached.wait(), 10)
    second_secret = (await setup_totp(client, account)).json()["secret"]
    release.set()
    confirmed = await confirming
    assert confirmed.status_code == 400, confirmed.text
    assert confirmed.json()["code"] == "MFA_SETUP_NOT_STARTED"
    me = await client.get("/users/me", headers=account.headers)
    assert me.json()["mfa_enabled"] is False
    # the second secret is still pending, and its own code confirms it
    done = await confirm_totp(client, account, pyotp.TOTP(second_secret).at(clock.now))
    assert done.status_code == 200, done.text


# -- the second step racing the account's deletion -----------------------------------------


def hold_second_steps(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Each second step waits after counting its try (the `mfa_token` row taken) and before
    taking the account's row, until the test releases it."""
    reached, release = asyncio.Event(), asyncio.Event()
    original: Callable[..., Awaitable[Any]] = MfaService.live_account

    async def held(self: MfaService, *args: Any, **kwargs: Any) -> Any:
        reached.set()
        await release.wait()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(MfaService, "live_account", held)
    return reached, release


async def test_a_deletion_while_a_second_step_holds_its_token_does_not_deadlock(
    app: FastAPI,
    make_app: AppFactory,
    mailbox: Mailbox,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second step holds its `mfa_token` row and wants the account's; the deletion
    must not hold the account's row and then want the token's (its cascade): it takes the
    logins in flight first, in the documented order, so the two queue."""
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        mfa = await mfa_account(first, mailbox, clock)
        token = await mfa_token(second, mfa.account)
        reached, release = hold_second_steps(monkeypatch)
        completing = asyncio.ensure_future(second_step(second, token, mfa.fresh_code()))
        await asyncio.wait_for(reached.wait(), 10)
        deleting = asyncio.ensure_future(
            first.request(
                "DELETE",
                "/users/me",
                json={"password": mfa.account.password},
                headers=mfa.headers,
            )
        )
        await asyncio.sleep(0.5)
        release.set()
        async with asyncio.timeout(30):
            completed, deleted = await asyncio.gather(completing, deleting)
        assert deleted.status_code in {200, 204}, deleted.text
        assert completed.status_code in {200, 401}, completed.text
        if completed.status_code == 200:
            me = await first.get(
                "/users/me", headers={"Authorization": f"Bearer {completed.json()['access_token']}"}
            )
            assert me.status_code == 401, "the account and its sessions are gone"
        else:
            assert completed.json()["code"] == "INVALID_TOKEN"


async def test_a_password_step_racing_the_deletion_is_no_500(
    make_app: AppFactory, mailbox: Mailbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login has checked the password of an account with MFA when the account is
    deleted on the other instance: the `mfa_token` it would hand out belongs to no one, and
    the answer is the 401 of a login to a missing account, not a foreign-key 500."""
    logins_app = await make_app()
    held = hold_password_checks(logins_app, monkeypatch)
    other = await make_app(email_dispatcher_enabled=False, **FAST_HASHING)
    async with http_client(logins_app) as logins, http_client(other) as owner:
        held.release()
        mfa = await mfa_account(owner, mailbox, clock)
        held.released.clear()
        in_flight = asyncio.ensure_future(password_step(logins, mfa.account))
        await held.until_held(1)
        deleted = await owner.request(
            "DELETE", "/users/me", json={"password": mfa.account.password}, headers=mfa.headers
        )
        assert deleted.status_code == 204, deleted.text
        held.release()
        answer = await in_flight
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "INVALID_CREDENTIALS"

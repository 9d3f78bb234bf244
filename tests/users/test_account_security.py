"""A credential change wins over everything in flight.

The races here are driven by real concurrency across two app instances on one database
(PostgreSQL, and SQLite): the request that loses must lose cleanly, never half-apply,
and never leave a live session behind. Where the interleaving matters, the loser is held
between its password check and what it writes next (`HeldPasswordChecks`) while the
winner runs, so the worst case is tested every time, not one time in ten.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory, http_client, two_instances
from tests.mailbox import Mailbox
from tests.support import (
    Account,
    hold_password_checks,
    is_live,
    logged_in,
    login_device,
    queued_subjects,
    reset_link,
)

RESET_PASSWORD = "the owner's reset passphrase"
ROUNDS = 5
FAST_HASHING = {"argon2_memory_kib": 8_192, "argon2_time_cost": 1}


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def change_password(
    client: httpx.AsyncClient, account: Account, new_password: str
) -> httpx.Response:
    return await client.post(
        "/users/change-password",
        json={"current_password": account.password, "new_password": new_password},
        headers=account.headers,
    )


async def reset(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.post(
        "/auth/reset-password", json={"token": token, "new_password": password}
    )


# -- 4. logins in flight during a reset ---------------------------------------------------


async def test_logins_checked_before_a_reset_leave_no_session_after_it(
    make_app: AppFactory, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each login has verified the old password and waits to insert its session while the
    owner resets on the other instance: every one of them must fail, none stays live."""
    logins_app = await make_app()
    held = hold_password_checks(logins_app, monkeypatch)
    other = await make_app(email_dispatcher_enabled=False)
    async with http_client(logins_app) as logins, http_client(other) as owner:
        held.release()
        account = await logged_in(owner, mailbox)
        token = await reset_link(owner, mailbox, account.email)
        held.released.clear()
        in_flight = [
            asyncio.ensure_future(attempt(logins, account.email, account.password))
            for _ in range(24)
        ]
        await held.until_held(24)
        assert (await reset(owner, token, RESET_PASSWORD)).status_code == 200
        held.release()
        answers = await asyncio.gather(*in_flight)
        assert Counter(answer.status_code for answer in answers) == {401: 24}
        assert {answer.json()["code"] for answer in answers} == {"INVALID_CREDENTIALS"}
        assert not await is_live(owner, account)
        sessions = await owner.get(
            "/users/me/sessions",
            headers={
                "Authorization": "Bearer "
                + (await attempt(owner, account.email, RESET_PASSWORD)).json()["access_token"]
            },
        )
        assert len(sessions.json()) == 1


async def test_a_burst_of_logins_racing_a_reset_leaves_only_new_password_sessions(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    """No holding: logins with the old password and the reset sent at once, over two
    instances, several rounds. Afterwards no session made with the old password works."""
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        for _ in range(ROUNDS):
            account = await logged_in(first, mailbox)
            token = await reset_link(first, mailbox, account.email)
            logins = [
                (first, second)[index % 2].post(
                    "/auth/login", json={"email": account.email, "password": account.password}
                )
                for index in range(12)
            ]
            *answers, reset_answer = await asyncio.gather(
                *logins, reset(second, token, RESET_PASSWORD)
            )
            assert reset_answer.status_code == 200, reset_answer.text
            assert {answer.status_code for answer in answers} <= {200, 401}
            for answer in answers:
                if answer.status_code == 200:
                    body = answer.json()
                    survivor = Account(
                        account.email, "", body["access_token"], body["refresh_token"]
                    )
                    assert not await is_live(first, survivor)


# -- 3. a stolen session against the owner's reset -------------------------------------


async def test_a_password_change_from_an_older_session_loses_to_the_reset(
    make_app: AppFactory, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker (session and password stolen) has passed the password check when the
    owner's reset lands: the change must fail, and the owner's password stays."""
    attacker_app = await make_app()
    held = hold_password_checks(attacker_app, monkeypatch)
    other = await make_app(email_dispatcher_enabled=False)
    async with http_client(attacker_app) as attacker, http_client(other) as owner:
        held.release()
        account = await logged_in(owner, mailbox)
        stolen = await login_device(attacker, account, "attacker")
        token = await reset_link(owner, mailbox, account.email)
        held.released.clear()
        changing = asyncio.ensure_future(change_password(attacker, stolen, "attacker's choice"))
        await held.until_held(1)
        assert (await reset(owner, token, RESET_PASSWORD)).status_code == 200
        held.release()
        lost = await changing
        assert lost.status_code == 401, lost.text
        assert lost.json()["code"] == "INVALID_TOKEN"
        assert (await attempt(owner, account.email, RESET_PASSWORD)).status_code == 200
        assert (await attempt(owner, account.email, "attacker's choice")).status_code == 401
        assert not await is_live(owner, stolen)


async def test_a_reset_racing_password_changes_ends_with_exactly_one_in_force(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    """Several rounds of a reset and several changes from a stolen session, all at once on
    two instances: either the reset won (and every change failed) or a change won (and
    the reset link died); the password in force is exactly the winner's."""
    async with two_instances(app, make_app, **FAST_HASHING) as (first, second):
        for round_number in range(ROUNDS):
            account = await logged_in(first, mailbox)
            stolen = await login_device(second, account, "attacker")
            token = await reset_link(first, mailbox, account.email)
            candidates = [f"changed passphrase {round_number}-{index}" for index in range(4)]
            *changes, reset_answer = await asyncio.gather(
                *(
                    change_password((first, second)[index % 2], stolen, password)
                    for index, password in enumerate(candidates)
                ),
                reset(first, token, RESET_PASSWORD),
            )
            assert {change.status_code for change in changes} <= {200, 401}
            won = [
                pw
                for pw, change in zip(candidates, changes, strict=True)
                if change.status_code == 200
            ]
            if reset_answer.status_code == 200:
                assert won == [], "a change from a session the reset ended went through"
                in_force = [RESET_PASSWORD]
            else:
                assert reset_answer.json()["code"] == "INVALID_TOKEN"
                assert won, "the reset lost to no one"
                in_force = won
            working = [
                password
                for password in [RESET_PASSWORD, *candidates, account.password]
                if (await attempt(second, account.email, password)).status_code == 200
            ]
            assert len(working) == 1, working
            assert working[0] in in_force


async def test_changing_to_the_same_password_is_refused_before_any_hashing(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Else a loop of such calls would move the stamp on and kill every reset link."""
    account = await logged_in(client, mailbox)
    token = await reset_link(client, mailbox, account.email)
    same = await change_password(client, account, account.password)
    assert same.status_code == 422
    assert same.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert account.password not in same.text
    assert (await reset(client, token, RESET_PASSWORD)).status_code == 200


async def test_every_password_change_and_reset_sends_a_notice(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox, full_name="Ada")
    assert (await change_password(client, account, "a changed passphrase")).status_code == 200
    changed = await mailbox.last(account.email, "Your password was changed")
    assert "/reset-password?token=" in changed.link
    token = await reset_link(client, mailbox, account.email)
    assert (await reset(client, token, RESET_PASSWORD)).status_code == 200
    notice = await mailbox.last(account.email, "Your password was reset")
    assert "Ada" in notice.text
    recovered = await reset(client, notice.token, "recovered from the notice")
    assert recovered.status_code == 200, "the notice's link recovers the account"


# -- a session ended while its request is in flight ---------------------------------------


SessionEnder = Callable[[httpx.AsyncClient, Account, Account], Awaitable[None]]


async def end_by_revoking(owner: httpx.AsyncClient, account: Account, victim: Account) -> None:
    sessions = (await owner.get("/users/me/sessions", headers=account.headers)).json()
    [other] = [item["id"] for item in sessions if not item["current"]]
    answer = await owner.delete(f"/users/me/sessions/{other}", headers=account.headers)
    assert answer.status_code == 204


async def end_by_logging_out_everywhere(
    owner: httpx.AsyncClient, account: Account, _victim: Account
) -> None:
    answer = await owner.post(
        "/users/logout-all", json={"keep_current": True}, headers=account.headers
    )
    assert answer.status_code == 204


@pytest.mark.parametrize("end", [end_by_revoking, end_by_logging_out_everywhere])
@pytest.mark.parametrize("action", ["email-change", "delete"])
async def test_a_session_ended_mid_request_changes_nothing(
    app: FastAPI,
    make_app: AppFactory,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    end: SessionEnder,
) -> None:
    """The thief's request has passed its password check when the owner ends the thief's
    session: the request must fail, not start an email change or delete the account."""
    thief_app = await make_app()
    held = hold_password_checks(thief_app, monkeypatch)
    async with http_client(thief_app) as thief_client, http_client(app) as owner:
        account = await logged_in(owner, mailbox)
        thief = await login_device(owner, account, "thief")
        target = f"thief-{account.email}"
        if action == "email-change":
            request = thief_client.patch(
                "/users/me",
                json={"email": target, "current_password": account.password},
                headers=thief.headers,
            )
        else:
            request = thief_client.request(
                "DELETE", "/users/me", json={"password": account.password}, headers=thief.headers
            )
        in_flight = asyncio.ensure_future(request)
        await held.until_held(1)
        await end(owner, account, thief)
        held.release()
        answer = await in_flight
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "INVALID_TOKEN"
        me = await owner.get("/users/me", headers=account.headers)
        assert me.status_code == 200
        assert me.json()["pending_email"] is None
        assert await queued_subjects(app, target) == []

"""Disabling the app and regenerating the recovery codes: behind the password and a code,
each with its notice email and its security event; off, a login is one step again."""

from __future__ import annotations

import httpx
import jwt
import pyotp
from fastapi import FastAPI

from tests.mailbox import Mailbox
from tests.mfa.conftest import (
    Clock,
    MfaAccount,
    assert_code_refused,
    assert_token_refused,
    confirm_totp,
    enable_totp,
    event_types,
    full_login,
    mfa_account,
    mfa_token,
    password_step,
    second_step,
    setup_totp,
)
from tests.support import count_events, logged_in


async def disable(
    client: httpx.AsyncClient, mfa: MfaAccount, code: str, password: str | None = None
) -> httpx.Response:
    return await client.post(
        "/users/me/mfa/totp/disable",
        json={"password": mfa.account.password if password is None else password, "code": code},
        headers=mfa.headers,
    )


async def regenerate(
    client: httpx.AsyncClient, mfa: MfaAccount, code: str, password: str | None = None
) -> httpx.Response:
    return await client.post(
        "/users/me/mfa/recovery-codes",
        json={"password": mfa.account.password if password is None else password, "code": code},
        headers=mfa.headers,
    )


async def assert_plain_login(client: httpx.AsyncClient, mfa: MfaAccount) -> None:
    plain = await password_step(client, mfa.account)
    assert plain.status_code == 200, plain.text
    claims = jwt.decode(plain.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd"]


async def test_disabling_with_an_app_code_turns_mfa_off(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    done = await disable(client, mfa, mfa.fresh_code())
    assert done.status_code == 200, done.text
    assert isinstance(done.json()["detail"], str)
    me = await client.get("/users/me", headers=mfa.headers)
    assert me.status_code == 200, "the session that disabled stays"
    assert me.json()["mfa_enabled"] is False
    await assert_plain_login(client, mfa)
    assert "mfa_disabled" in await event_types(client, mfa.account)
    notice = await mailbox.last(mfa.account.email, "Two-step sign-in is off")
    assert "authenticator app" in notice.text
    assert "password alone" in notice.text
    # the recovery codes went with it: set up again, the old ones are nothing
    again = await enable_totp(client, mfa.account, clock)
    assert set(again.recovery_codes).isdisjoint(mfa.recovery_codes)
    token = await mfa_token(client, mfa.account)
    assert_code_refused(await second_step(client, token, mfa.recovery_codes[0]))
    assert await count_events(app, mfa.account.email, "mfa_enabled") == 2


async def test_disabling_with_a_recovery_code_spends_it_and_says_so(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    done = await disable(client, mfa, mfa.recovery_codes[0])
    assert done.status_code == 200, done.text
    assert (await client.get("/users/me", headers=mfa.headers)).json()["mfa_enabled"] is False
    await mailbox.wait_for(mfa.account.email, "A recovery code was used")
    await mailbox.wait_for(mfa.account.email, "Two-step sign-in is off")
    assert await count_events(app, mfa.account.email, "recovery_code_used") == 1
    await assert_plain_login(client, mfa)


async def test_disabling_is_behind_the_password_and_a_right_code(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    code = mfa.fresh_code()
    wrong_password = await disable(client, mfa, code, password="certainly not it")
    assert wrong_password.status_code == 400, wrong_password.text
    assert wrong_password.json()["code"] == "INVALID_PASSWORD"
    wrong_code = await disable(client, mfa, f"{(int(code) + 1) % 1_000_000:06d}")
    assert_code_refused(wrong_code, 400)
    spent = await disable(client, mfa, mfa.code(-1))
    assert_code_refused(spent, 400)
    assert "mfa_failed" in await event_types(client, mfa.account)
    assert (await client.get("/users/me", headers=mfa.headers)).json()["mfa_enabled"] is True
    assert (await disable(client, mfa, code)).status_code == 200, "refusals spent nothing"


async def test_disabling_or_regenerating_without_mfa_is_not_found(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    account = await logged_in(client, mailbox)
    mfa = MfaAccount(account, pyotp.random_base32(), [], clock)
    for answer in (await disable(client, mfa, "123456"), await regenerate(client, mfa, "123456")):
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "MFA_NOT_ENABLED"
    secret = (await setup_totp(client, account)).json()["secret"]
    pending = await disable(client, mfa, pyotp.TOTP(secret).at(clock.now))
    assert pending.status_code == 404, "a pending app is no app to disable"
    assert (await confirm_totp(client, account, pyotp.TOTP(secret).at(clock.now))).status_code == (
        200
    )


async def test_disabling_kills_the_logins_in_flight(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    assert (await disable(client, mfa, mfa.fresh_code())).status_code == 200
    assert_token_refused(await second_step(client, token, mfa.recovery_codes[0]))


async def test_regenerating_replaces_every_recovery_code(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    answer = await regenerate(client, mfa, mfa.fresh_code())
    assert answer.status_code == 200, answer.text
    fresh = answer.json()["recovery_codes"]
    assert len(fresh) == 10
    assert set(fresh).isdisjoint(mfa.recovery_codes)
    for old in mfa.recovery_codes[:3]:
        assert_code_refused(await second_step(client, await mfa_token(client, mfa.account), old))
    assert "recovery_codes_regenerated" in await event_types(client, mfa.account)
    notice = await mailbox.last(mfa.account.email, "Your sign-in methods changed")
    assert "New recovery codes" in notice.text
    mfa.recovery_codes = fresh
    signed_in = await full_login(client, mfa, fresh[9])
    assert signed_in.access_token
    assert (await client.get("/users/me", headers=mfa.headers)).status_code == 200


async def test_regenerating_with_a_recovery_code_spends_it_and_is_guarded(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    wrong_password = await regenerate(client, mfa, mfa.recovery_codes[0], password="nope nope")
    assert wrong_password.status_code == 400
    assert wrong_password.json()["code"] == "INVALID_PASSWORD"
    assert_code_refused(await regenerate(client, mfa, "aaaa-bbbb-cccc-dddd"), 400)
    answer = await regenerate(client, mfa, mfa.recovery_codes[0])
    assert answer.status_code == 200, answer.text
    assert await count_events(app, mfa.account.email, "recovery_code_used") == 1
    await mailbox.wait_for(mfa.account.email, "A recovery code was used")
    assert_code_refused(await regenerate(client, mfa, mfa.recovery_codes[0]), 400)


async def test_every_factor_event_is_in_the_security_log(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    assert_code_refused(
        await second_step(client, token, "000000" if mfa.code() != "000000" else "1" * 6)
    )
    await full_login(client, mfa, mfa.recovery_codes[0])
    assert (await regenerate(client, mfa, mfa.fresh_code())).status_code == 200
    assert (await disable(client, mfa, mfa.fresh_code())).status_code == 200
    seen = set(await event_types(client, mfa.account))
    assert {
        "mfa_enabled",
        "mfa_disabled",
        "mfa_failed",
        "recovery_code_used",
        "recovery_codes_regenerated",
    } <= seen

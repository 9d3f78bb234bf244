"""The login's second step: a right password on an account with MFA answers 403 with an
`mfa_token`, and only `POST /auth/login/mfa` with a code makes the session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import update

from fastapi_auth.kernel.models import MfaToken, utcnow
from fastapi_auth.mfa.service import hash_mfa_token
from tests.mailbox import Mailbox
from tests.mfa.conftest import (
    Clock,
    assert_code_refused,
    assert_token_refused,
    event_types,
    full_login,
    me,
    mfa_account,
    mfa_token,
    password_step,
    second_step,
)
from tests.support import (
    Account,
    bearer,
    count_events,
    database_of,
    logged_in,
    refresh,
    reset_link,
)

NEW_PASSWORD = "the passphrase after the reset"


def amr_of(access_token: str) -> list[str]:
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    amr: list[str] = claims["amr"]
    return amr


def other_code(code: str) -> str:
    """A well-formed code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_a_right_password_asks_for_the_second_factor(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    asked = await password_step(client, mfa.account)
    assert asked.status_code == 403, asked.text
    body = asked.json()
    assert body["code"] == "MFA_REQUIRED"
    assert body["mfa_methods"] == ["totp", "recovery_code"]
    assert isinstance(body["mfa_token"], str)
    assert len(body["mfa_token"]) >= 32
    assert "access_token" not in body
    assert "refresh_token" not in body


async def test_a_wrong_password_never_tells_that_mfa_is_on(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    plain = await logged_in(client, mailbox)
    answers = [
        await client.post("/auth/login", json={"email": email, "password": "a wrong guess!"})
        for email in (mfa.account.email, plain.email)
    ]
    assert [answer.status_code for answer in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["code"] == "INVALID_CREDENTIALS"
    assert answers[0].headers.get("www-authenticate") == answers[1].headers.get("www-authenticate")


async def test_the_app_code_completes_the_login_with_amr_pwd_otp(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    done = await second_step(client, token, mfa.fresh_code())
    assert done.status_code == 200, done.text
    body = done.json()
    assert {"access_token", "refresh_token", "token_type"} <= set(body)
    assert amr_of(body["access_token"]) == ["pwd", "otp"]
    assert (await me(client, body["access_token"])).status_code == 200
    assert "login_succeeded" in await event_types(
        client, Account(mfa.account.email, "", body["access_token"])
    )


async def test_the_amr_survives_a_refresh(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    signed_in = await full_login(client, mfa, mfa.fresh_code())
    refreshed = await refresh(client, signed_in.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    assert amr_of(refreshed.json()["access_token"]) == ["pwd", "otp"]
    again = await refresh(client, refreshed.json()["refresh_token"])
    assert amr_of(again.json()["access_token"]) == ["pwd", "otp"]
    by_code = await full_login(client, mfa, mfa.recovery_codes[0])
    refreshed = await refresh(client, by_code.refresh_token)
    assert amr_of(refreshed.json()["access_token"]) == ["pwd", "rec"]


async def test_a_recovery_code_completes_the_login_once_with_a_notice(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    code = mfa.recovery_codes[3]
    done = await second_step(client, await mfa_token(client, mfa.account), code.upper())
    assert done.status_code == 200, done.text
    assert amr_of(done.json()["access_token"]) == ["pwd", "rec"]
    notice = await mailbox.last(mfa.account.email, "A recovery code was used")
    assert "9 unused codes remain" in notice.text
    assert await count_events(app, mfa.account.email, "recovery_code_used") == 1
    again = await second_step(client, await mfa_token(client, mfa.account), code)
    assert_code_refused(again)
    undashed = await second_step(
        client, await mfa_token(client, mfa.account), code.replace("-", "")
    )
    assert_code_refused(undashed)
    assert await count_events(app, mfa.account.email, "recovery_code_used") == 1


async def test_a_code_is_refused_when_replayed_inside_its_window(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    code = mfa.fresh_code()
    await full_login(client, mfa, code)
    replay = await second_step(client, await mfa_token(client, mfa.account), code)
    assert_code_refused(replay)


async def test_the_confirming_code_cannot_be_used_to_log_in(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    assert_code_refused(await second_step(client, await mfa_token(client, mfa.account), mfa.code()))


async def test_an_earlier_steps_code_is_refused_after_a_later_one(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    clock.advance(3)
    later = mfa.code(+1)
    earlier = mfa.code(-1)
    await full_login(client, mfa, later)
    for code in (earlier, mfa.code()):
        assert_code_refused(await second_step(client, await mfa_token(client, mfa.account), code))


async def test_one_step_of_drift_either_side_is_accepted(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    clock.advance(2)
    behind = await full_login(client, mfa, mfa.code(-1))
    assert amr_of(behind.access_token) == ["pwd", "otp"]
    ahead = await full_login(client, mfa, mfa.code(+1))
    assert amr_of(ahead.access_token) == ["pwd", "otp"]


async def test_two_steps_of_drift_either_side_are_refused(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    clock.advance(5)
    token = await mfa_token(client, mfa.account)
    for steps in (-2, +2, -3, +3):
        code = mfa.code(steps)
        if code in {mfa.code(-1), mfa.code(), mfa.code(+1)}:
            continue  # one in a million: the same digits as an accepted step's
        assert_code_refused(await second_step(client, token, code))
    assert (await second_step(client, token, mfa.code())).status_code == 200


async def test_the_sixth_code_on_one_token_is_refused_even_when_right(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    right = mfa.fresh_code()
    token = await mfa_token(client, mfa.account)
    for _ in range(5):
        assert_code_refused(await second_step(client, token, other_code(right)))
    assert_token_refused(await second_step(client, token, right))
    assert await count_events(app, mfa.account.email, "mfa_failed") == 5
    # the code itself was not spent: a new login takes it
    assert (await second_step(client, await mfa_token(client, mfa.account), right)).status_code == (
        200
    )


async def test_the_fifth_wrong_code_leaves_no_sixth_try_and_a_right_fifth_passes(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    right = mfa.fresh_code()
    token = await mfa_token(client, mfa.account)
    for _ in range(4):
        assert_code_refused(await second_step(client, token, other_code(right)))
    assert (await second_step(client, token, right)).status_code == 200


async def test_an_expired_mfa_token_is_refused(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    async with database_of(app).transaction() as session:
        result = await session.execute(
            update(MfaToken)
            .where(MfaToken.token_hash == hash_mfa_token(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert result.rowcount == 1  # type: ignore[attr-defined]
    assert_token_refused(await second_step(client, token, mfa.fresh_code()))


async def test_the_mfa_token_lives_five_minutes(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    before = utcnow()
    token = await mfa_token(client, mfa.account)
    async with database_of(app).transaction() as session:
        expires_at = await session.scalar(
            MfaToken.__table__.select()
            .with_only_columns(MfaToken.expires_at)
            .where(MfaToken.token_hash == hash_mfa_token(token))
        )
    assert expires_at is not None
    lifetime = expires_at.replace(tzinfo=None) - before.replace(tzinfo=None)
    assert timedelta(minutes=4, seconds=55) <= lifetime <= timedelta(minutes=5, seconds=5)


async def test_the_mfa_token_is_spent_by_the_login_it_completes(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    assert (await second_step(client, token, mfa.fresh_code())).status_code == 200
    assert_token_refused(await second_step(client, token, mfa.fresh_code()))
    assert_token_refused(await second_step(client, token, mfa.recovery_codes[0]))


async def test_an_unknown_mfa_token_is_refused(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    assert_token_refused(await second_step(client, "not-a-token", mfa.fresh_code()))


async def test_the_mfa_token_is_no_access_token(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    for path in ("/users/me", "/users/me/sessions", "/users/me/security-events"):
        refused = await client.get(path, headers=bearer(token))
        assert refused.status_code == 401, (path, refused.text)
    setup = await client.post(
        "/users/me/mfa/totp/disable",
        json={"password": mfa.account.password, "code": mfa.fresh_code()},
        headers=bearer(token),
    )
    assert setup.status_code == 401
    assert (await refresh(client, token)).status_code == 401
    # and the login it belongs to still completes
    assert (await second_step(client, token, mfa.code())).status_code == 200


async def test_a_password_reset_kills_the_login_in_flight_and_mfa_stays_on(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    mfa = await mfa_account(client, mailbox, clock)
    token = await mfa_token(client, mfa.account)
    link = await reset_link(client, mailbox, mfa.account.email)
    reset = await client.post(
        "/auth/reset-password", json={"token": link, "new_password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text
    assert_token_refused(await second_step(client, token, mfa.fresh_code()))
    mfa.account.password = NEW_PASSWORD
    after = await password_step(client, mfa.account)
    assert after.status_code == 403, after.text
    assert after.json()["code"] == "MFA_REQUIRED"
    done = await second_step(client, after.json()["mfa_token"], mfa.code())
    assert done.status_code == 200, "the refused attempt did not spend the code"

"""Setting up the authenticator app: behind the password, pending until a first code
confirms it, and a credential change in between kills the pending setup."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import select

from fastapi_auth.kernel.models import TotpAuthenticator
from tests.mailbox import Mailbox
from tests.mfa.conftest import (
    Clock,
    confirm_totp,
    enable_totp,
    event_types,
    mfa_account,
    setup_totp,
)
from tests.support import (
    database_of,
    is_live,
    logged_in,
    login_device,
    stored_user,
)


async def test_setup_answers_a_base32_secret_its_uri_and_a_qr_code(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    response = await setup_totp(client, account)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    assert len(base64.b32decode(body["secret"])) == 20
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]]
    assert query["issuer"][0]
    assert body["qr_svg"].startswith("<svg")
    assert body["qr_svg"].rstrip().endswith("</svg>")
    assert pyotp.parse_uri(body["otpauth_uri"]).secret == body["secret"]
    me = await client.get("/users/me", headers=account.headers)
    assert me.json()["mfa_enabled"] is False, "nothing is on before a code confirms it"


async def test_setup_is_behind_the_password(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await logged_in(client, mailbox)
    wrong = await setup_totp(client, account, password="not the password at all")
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["code"] == "INVALID_PASSWORD"
    confirm = await confirm_totp(client, account, "123456")
    assert confirm.status_code == 400
    assert confirm.json()["code"] == "MFA_SETUP_NOT_STARTED", "a refused setup leaves none"


async def test_setup_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.post("/users/me/mfa/totp/setup", json={"password": "x" * 12})
    assert response.status_code == 401


async def test_confirm_without_setup_is_refused(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    response = await confirm_totp(client, account, "123456")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "MFA_SETUP_NOT_STARTED"


async def test_a_wrong_first_code_is_refused_and_leaves_mfa_off(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    account = await logged_in(client, mailbox)
    secret = (await setup_totp(client, account)).json()["secret"]
    right = pyotp.TOTP(secret).at(clock.now)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = await confirm_totp(client, account, wrong)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "INVALID_MFA_CODE"
    assert (await client.get("/users/me", headers=account.headers)).json()["mfa_enabled"] is False
    assert "mfa_failed" in await event_types(client, account)
    assert (await confirm_totp(client, account, right)).status_code == 200


async def test_confirm_turns_mfa_on_with_ten_recovery_codes_and_ends_other_sessions(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    account = await logged_in(client, mailbox)
    other = await login_device(client, account, "the other device")
    assert (await client.get("/users/me", headers=other.headers)).status_code == 200
    enabled = await enable_totp(client, account, clock)

    codes = enabled.recovery_codes
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(len(code.replace("-", "")) >= 16 for code in codes)
    assert (await client.get("/users/me", headers=other.headers)).status_code == 401
    assert not await is_live(client, other)
    me = await client.get("/users/me", headers=account.headers)
    assert me.status_code == 200, "the session that confirmed stays"
    assert me.json()["mfa_enabled"] is True
    assert "mfa_enabled" in await event_types(client, account)
    notice = await mailbox.last(account.email, "Two-step sign-in is on")
    assert "authenticator app was set up" in notice.text


async def test_setup_again_once_confirmed_is_a_conflict(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    enabled = await mfa_account(client, mailbox, clock)
    again = await setup_totp(client, enabled.account)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "MFA_ALREADY_ENABLED"
    # the app in force is still the first one
    confirm = await confirm_totp(client, enabled.account, enabled.fresh_code())
    assert confirm.status_code == 400
    assert confirm.json()["code"] == "MFA_SETUP_NOT_STARTED"


async def test_a_second_setup_replaces_the_pending_secret(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    account = await logged_in(client, mailbox)
    first = (await setup_totp(client, account)).json()["secret"]
    second = (await setup_totp(client, account)).json()["secret"]
    assert first != second
    stale = await confirm_totp(client, account, pyotp.TOTP(first).at(clock.now))
    assert stale.status_code == 400
    assert stale.json()["code"] == "INVALID_MFA_CODE"
    confirmed = await confirm_totp(client, account, pyotp.TOTP(second).at(clock.now))
    assert confirmed.status_code == 200, confirmed.text


async def test_a_password_change_between_setup_and_confirm_kills_the_setup(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    account = await logged_in(client, mailbox)
    secret = (await setup_totp(client, account)).json()["secret"]
    changed = await client.post(
        "/users/change-password",
        json={"current_password": account.password, "new_password": "a brand new passphrase"},
        headers=account.headers,
    )
    assert changed.status_code == 200, changed.text
    refused = await confirm_totp(client, account, pyotp.TOTP(secret).at(clock.now))
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "MFA_SETUP_NOT_STARTED"
    assert (await client.get("/users/me", headers=account.headers)).json()["mfa_enabled"] is False


async def test_the_secret_is_stored_encrypted(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    enabled = await mfa_account(client, mailbox, clock)
    user = await stored_user(app, enabled.account.email)
    async with database_of(app).transaction() as session:
        stored = await session.scalar(
            select(TotpAuthenticator.secret_encrypted).where(TotpAuthenticator.user_id == user.id)
        )
    assert stored is not None
    raw = bytes(stored)
    secret = enabled.secret.encode()
    assert secret not in raw
    assert base64.b32decode(enabled.secret) not in raw
    assert secret.lower() not in raw.lower()

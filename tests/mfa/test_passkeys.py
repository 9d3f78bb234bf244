"""Passkeys over HTTP, with a software authenticator (`tests/webauthn_authenticator.py`)
sending what a browser's `credential.toJSON()` sends: registration, the list, rename and
delete; the usernameless login; the second step after a password; and every assertion
the contract says is refused (another origin, another RP id, a spent challenge, a
counter gone back)."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from webauthn.helpers import bytes_to_base64url

from fastapi_auth.kernel.models import Passkey, RecoveryCode
from tests.conftest import AppFactory, two_instances
from tests.mailbox import Mailbox
from tests.mfa.conftest import Clock, enable_totp, event_types, me, mfa_token, password_step
from tests.support import (
    Account,
    bearer,
    count_events,
    database_of,
    logged_in,
    login_device,
    queued_subjects,
    settings_of,
    stored_user,
    update_user,
)
from tests.webauthn_authenticator import SoftAuthenticator


def amr_of(access_token: str) -> list[str]:
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    amr: list[str] = claims["amr"]
    return amr


def origin_of(app: FastAPI) -> str:
    return settings_of(app).relying_party_origins[0]


@dataclass
class PasskeyAccount:
    account: Account
    device: SoftAuthenticator
    passkey: dict[str, Any]
    recovery_codes: list[str]
    origin: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return self.account.headers


async def creation_options(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.post("/users/me/passkeys/options", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def register(
    client: httpx.AsyncClient,
    account: Account,
    device: SoftAuthenticator,
    origin: str,
    *,
    name: str | None = None,
    **create: Any,
) -> httpx.Response:
    asked = await creation_options(client, account)
    credential = device.create(asked["options"], origin, **create)
    body: dict[str, Any] = {"challenge_id": asked["challenge_id"], "credential": credential}
    if name is not None:
        body["name"] = name
    return await client.post("/users/me/passkeys", json=body, headers=account.headers)


async def passkey_account(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, **device: Any
) -> PasskeyAccount:
    account = await logged_in(client, mailbox)
    authenticator = SoftAuthenticator(**device)
    added = await register(client, account, authenticator, origin_of(app), name="Laptop")
    assert added.status_code == 201, added.text
    body = added.json()
    return PasskeyAccount(
        account, authenticator, body["passkey"], body["recovery_codes"], origin_of(app)
    )


async def usernameless_options(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/auth/passkey/options")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def passkey_login(
    client: httpx.AsyncClient, holder: PasskeyAccount, **get: Any
) -> httpx.Response:
    asked = await usernameless_options(client)
    origin = get.pop("origin", holder.origin)
    credential = holder.device.get(asked["options"], origin, **get)
    return await client.post(
        "/auth/passkey/login",
        json={"challenge_id": asked["challenge_id"], "credential": credential},
    )


def assert_passkey_refused(response: httpx.Response, status: int = 401) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == "INVALID_PASSKEY"


async def stored_passkey(app: FastAPI, email: str) -> Passkey:
    user = await stored_user(app, email)
    async with database_of(app).transaction() as session:
        passkey = await session.scalar(select(Passkey).where(Passkey.user_id == user.id))
    assert passkey is not None
    return passkey


# -- registration ---------------------------------------------------------------------------


async def test_creation_options_are_the_contracts(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    asked = await creation_options(client, holder.account)
    options = asked["options"]
    settings = settings_of(app)
    assert options["rp"] == {"id": settings.relying_party_id, "name": settings.relying_party_name}
    assert [param["alg"] for param in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["timeout"] == 300_000
    assert options["user"]["name"] == holder.account.email
    assert [item["id"] for item in options["excludeCredentials"]] == [
        bytes_to_base64url(credential_id) for credential_id in holder.device.credentials
    ]
    assert options["extensions"] == {"credProps": True}


async def test_registering_the_first_passkey_turns_mfa_on(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    other_device = await login_device(client, account, "the other phone")
    device = SoftAuthenticator(backup_eligible=True, backed_up=True)
    added = await register(client, account, device, origin_of(app), name="  Phone  ")
    assert added.status_code == 201, added.text
    body = added.json()
    assert len(body["recovery_codes"]) == 10
    passkey = body["passkey"]
    assert set(passkey) == {"id", "name", "created_at", "last_used_at", "backed_up", "transports"}
    assert passkey["name"] == "Phone"
    assert passkey["backed_up"] is True
    assert passkey["last_used_at"] is None
    assert passkey["transports"] == ["internal", "hybrid"]
    stored = await stored_passkey(app, account.email)
    assert stored.backup_eligible is True
    assert stored.sign_count == 1
    # the registering session stays, every other one ends
    assert (await me(client, account.access_token)).json()["mfa_enabled"] is True
    assert (await me(client, other_device.access_token)).status_code == 401
    events = await event_types(client, account)
    assert "passkey_added" in events
    assert "mfa_enabled" in events
    # and the password alone no longer logs in
    asked = await password_step(client, account)
    assert asked.status_code == 403, asked.text
    assert asked.json()["mfa_methods"] == ["recovery_code", "passkey"]


async def test_a_second_passkey_keeps_every_session_and_returns_no_codes(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    other_device = await login_device_with_passkey(client, holder)
    added = await register(client, holder.account, SoftAuthenticator(), holder.origin)
    assert added.status_code == 201, added.text
    assert added.json()["recovery_codes"] == []
    assert added.json()["passkey"]["name"] == "Passkey"
    assert (await me(client, other_device)).status_code == 200
    assert (await me(client, holder.account.access_token)).status_code == 200
    subjects = await queued_subjects(app, holder.account.email)
    assert subjects[-2:] == ["Two-step sign-in is on", "Your sign-in methods changed"]


async def login_device_with_passkey(client: httpx.AsyncClient, holder: PasskeyAccount) -> str:
    done = await passkey_login(client, holder)
    assert done.status_code == 200, done.text
    token: str = done.json()["access_token"]
    return token


async def test_a_passkey_registered_already_is_409(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    taken = next(iter(holder.device.credentials))
    again = await register(
        client,
        holder.account,
        SoftAuthenticator(),
        holder.origin,
        credential_id=taken,
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "PASSKEY_EXISTS"
    elsewhere = await logged_in(client, mailbox)
    other = await register(
        client, elsewhere, SoftAuthenticator(), holder.origin, credential_id=taken
    )
    assert other.status_code == 409, other.text


@pytest.mark.parametrize(
    ("origin", "rp_id"),
    [("https://evil.example", None), (None, "evil.example"), ("http://localhost:8001", None)],
)
async def test_a_registration_for_another_origin_or_rp_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    origin: str | None,
    rp_id: str | None,
) -> None:
    account = await logged_in(client, mailbox)
    refused = await register(
        client, account, SoftAuthenticator(), origin or origin_of(app), rp_id=rp_id
    )
    assert_passkey_refused(refused, 400)
    assert (await me(client, account.access_token)).json()["mfa_enabled"] is False


async def test_a_registration_challenge_is_single_use_and_the_accounts(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    asked = await creation_options(client, account)
    device = SoftAuthenticator()
    first = device.create(asked["options"], origin_of(app))
    done = await client.post(
        "/users/me/passkeys",
        json={"challenge_id": asked["challenge_id"], "credential": first},
        headers=account.headers,
    )
    assert done.status_code == 201, done.text
    replay = SoftAuthenticator().create(asked["options"], origin_of(app))
    again = await client.post(
        "/users/me/passkeys",
        json={"challenge_id": asked["challenge_id"], "credential": replay},
        headers=account.headers,
    )
    assert_passkey_refused(again, 400)
    # another account's challenge is not this one's
    stranger = await logged_in(client, mailbox)
    theirs = await creation_options(client, stranger)
    used = await client.post(
        "/users/me/passkeys",
        json={
            "challenge_id": theirs["challenge_id"],
            "credential": SoftAuthenticator().create(theirs["options"], origin_of(app)),
        },
        headers=account.headers,
    )
    assert_passkey_refused(used, 400)


async def test_a_credential_change_kills_a_pending_registration(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    asked = await creation_options(client, account)
    changed = await client.post(
        "/users/change-password",
        json={"current_password": account.password, "new_password": "another long passphrase"},
        headers=account.headers,
    )
    assert changed.status_code == 200, changed.text
    late = await client.post(
        "/users/me/passkeys",
        json={
            "challenge_id": asked["challenge_id"],
            "credential": SoftAuthenticator().create(asked["options"], origin_of(app)),
        },
        headers=account.headers,
    )
    assert late.status_code in (400, 401), late.text
    assert (await me(client, account.access_token)).json()["mfa_enabled"] is False


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"id": "x", "rawId": "x", "type": "public-key", "response": {}},
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "!!"}},
        {"id": 1, "rawId": [1], "response": {"attestationObject": "a", "clientDataJSON": "a"}},
    ],
)
async def test_garbage_credentials_are_400_not_500(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, credential: dict[str, Any]
) -> None:
    account = await logged_in(client, mailbox)
    asked = await creation_options(client, account)
    refused = await client.post(
        "/users/me/passkeys",
        json={"challenge_id": asked["challenge_id"], "credential": credential},
        headers=account.headers,
    )
    assert_passkey_refused(refused, 400)
    login = await client.post(
        "/auth/passkey/login",
        json={
            "challenge_id": (await usernameless_options(client))["challenge_id"],
            "credential": credential,
        },
    )
    assert_passkey_refused(login)


# -- list, rename, delete -----------------------------------------------------------------


async def test_list_rename_and_delete(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    listed = await client.get("/users/me/passkeys", headers=holder.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json() == [holder.passkey]
    passkey_id = holder.passkey["id"]
    renamed = await client.patch(
        f"/users/me/passkeys/{passkey_id}", json={"name": "Work laptop"}, headers=holder.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {**holder.passkey, "name": "Work laptop"}
    listed = await client.get("/users/me/passkeys", headers=holder.headers)
    assert listed.json()[0]["name"] == "Work laptop"

    wrong = await client.request(
        "DELETE",
        f"/users/me/passkeys/{passkey_id}",
        json={"password": "not the password"},
        headers=holder.headers,
    )
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["code"] == "INVALID_PASSWORD"
    gone = await client.request(
        "DELETE",
        f"/users/me/passkeys/{passkey_id}",
        json={"password": holder.account.password},
        headers=holder.headers,
    )
    assert gone.status_code == 204, gone.text
    assert (await client.get("/users/me/passkeys", headers=holder.headers)).json() == []
    assert (await queued_subjects(app, holder.account.email))[-1] == "Two-step sign-in is off"
    assert (await me(client, holder.account.access_token)).json()["mfa_enabled"] is False
    events = await event_types(client, holder.account)
    assert "passkey_removed" in events
    assert "mfa_disabled" in events
    user = await stored_user(app, holder.account.email)
    async with database_of(app).transaction() as session:
        codes = (
            await session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
        ).all()
    assert codes == []
    plain = await password_step(client, holder.account)
    assert plain.status_code == 200, plain.text


async def test_another_accounts_passkey_is_404(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    stranger = await logged_in(client, mailbox)
    path = f"/users/me/passkeys/{holder.passkey['id']}"
    renamed = await client.patch(path, json={"name": "mine"}, headers=stranger.headers)
    assert renamed.status_code == 404, renamed.text
    deleted = await client.request(
        "DELETE", path, json={"password": stranger.password}, headers=stranger.headers
    )
    assert deleted.status_code == 404, deleted.text
    unknown = await client.patch(
        "/users/me/passkeys/00000000-0000-0000-0000-000000000000",
        json={"name": "x"},
        headers=holder.headers,
    )
    assert unknown.status_code == 404, unknown.text


async def test_deleting_one_of_two_keeps_mfa_on_and_every_session(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    added = await register(client, holder.account, SoftAuthenticator(), holder.origin)
    assert added.status_code == 201, added.text
    elsewhere = await login_device_with_passkey(client, holder)
    gone = await client.request(
        "DELETE",
        f"/users/me/passkeys/{holder.passkey['id']}",
        json={"password": holder.account.password},
        headers=holder.headers,
    )
    assert gone.status_code == 204, gone.text
    assert (await me(client, holder.account.access_token)).json()["mfa_enabled"] is True
    assert (await me(client, elsewhere)).status_code == 200
    assert (await password_step(client, holder.account)).status_code == 403


async def test_deleting_the_passkey_keeps_mfa_on_while_the_app_remains(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, clock: Clock
) -> None:
    account = await logged_in(client, mailbox)
    await enable_totp(client, account, clock)
    added = await register(client, account, SoftAuthenticator(), origin_of(app))
    assert added.status_code == 201, added.text
    assert added.json()["recovery_codes"] == []
    asked = await password_step(client, account)
    assert asked.json()["mfa_methods"] == ["totp", "recovery_code", "passkey"]
    gone = await client.request(
        "DELETE",
        f"/users/me/passkeys/{added.json()['passkey']['id']}",
        json={"password": account.password},
        headers=account.headers,
    )
    assert gone.status_code == 204, gone.text
    assert (await password_step(client, account)).json()["mfa_methods"] == [
        "totp",
        "recovery_code",
    ]


# -- the usernameless login -----------------------------------------------------------------


async def test_a_usernameless_login_is_both_factors(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    asked = await usernameless_options(client)
    assert asked["options"]["allowCredentials"] == []
    assert asked["options"]["rpId"] == settings_of(app).relying_party_id
    credential = holder.device.get(asked["options"], holder.origin)
    done = await client.post(
        "/auth/passkey/login",
        json={"challenge_id": asked["challenge_id"], "credential": credential},
    )
    assert done.status_code == 200, done.text
    assert amr_of(done.json()["access_token"]) == ["hwk"]
    assert (await me(client, done.json()["access_token"])).status_code == 200
    stored = await stored_passkey(app, holder.account.email)
    assert stored.sign_count == 2
    assert stored.last_used_at is not None
    listed = await client.get("/users/me/passkeys", headers=bearer(done.json()["access_token"]))
    assert listed.json()[0]["last_used_at"] is not None


async def test_a_counter_that_stays_zero_is_allowed(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox, counter_step=0)
    for _ in range(3):
        assert (await passkey_login(client, holder)).status_code == 200


async def test_a_counter_gone_back_is_refused_with_an_event(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    assert (await passkey_login(client, holder)).status_code == 200  # counter now 2
    for counter in (1, 2):
        assert_passkey_refused(await passkey_login(client, holder, sign_count=counter))
    assert await count_events(app, holder.account.email, "mfa_failed") == 2
    assert (await stored_passkey(app, holder.account.email)).sign_count == 2
    assert (await passkey_login(client, holder, sign_count=7)).status_code == 200


@pytest.mark.parametrize(
    "get",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://localhost:8001"},
        {"rp_id": "evil.example"},
    ],
)
async def test_an_assertion_for_another_origin_or_rp_is_refused(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, get: dict[str, Any]
) -> None:
    holder = await passkey_account(app, client, mailbox)
    credential_id = next(iter(holder.device.credentials))
    assert_passkey_refused(await passkey_login(client, holder, credential_id=credential_id, **get))
    assert (await stored_passkey(app, holder.account.email)).sign_count == 1


async def test_a_login_challenge_is_single_use(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox, counter_step=0)
    asked = await usernameless_options(client)
    body = {
        "challenge_id": asked["challenge_id"],
        "credential": holder.device.get(asked["options"], holder.origin),
    }
    assert (await client.post("/auth/passkey/login", json=body)).status_code == 200
    assert_passkey_refused(await client.post("/auth/passkey/login", json=body))
    fresh = holder.device.get(asked["options"], holder.origin)
    replayed = await client.post(
        "/auth/passkey/login", json={"challenge_id": asked["challenge_id"], "credential": fresh}
    )
    assert_passkey_refused(replayed)


async def test_an_assertion_for_another_challenge_is_refused(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    signed_for = await usernameless_options(client)
    sent_with = await usernameless_options(client)
    refused = await client.post(
        "/auth/passkey/login",
        json={
            "challenge_id": sent_with["challenge_id"],
            "credential": holder.device.get(signed_for["options"], holder.origin),
        },
    )
    assert_passkey_refused(refused)


async def test_a_user_handle_naming_someone_else_is_refused(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    other = await passkey_account(app, client, mailbox)
    asked = await usernameless_options(client)
    credential = holder.device.get(asked["options"], holder.origin)
    credential["response"]["userHandle"] = other.device.get(asked["options"], other.origin)[
        "response"
    ]["userHandle"]
    refused = await client.post(
        "/auth/passkey/login",
        json={"challenge_id": asked["challenge_id"], "credential": credential},
    )
    assert_passkey_refused(refused)


@pytest.mark.parametrize(
    ("values", "code"),
    [({"is_active": False}, "ACCOUNT_DISABLED"), ({"is_verified": False}, "EMAIL_NOT_VERIFIED")],
)
async def test_a_disabled_or_unverified_account_is_403(
    app: FastAPI,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    values: dict[str, bool],
    code: str,
) -> None:
    holder = await passkey_account(app, client, mailbox)
    await update_user(app, holder.account.email, **values)
    refused = await passkey_login(client, holder)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == code


async def test_a_deleted_passkey_no_longer_logs_in(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    gone = await client.request(
        "DELETE",
        f"/users/me/passkeys/{holder.passkey['id']}",
        json={"password": holder.account.password},
        headers=holder.headers,
    )
    assert gone.status_code == 204, gone.text
    assert_passkey_refused(await passkey_login(client, holder))


# -- the second step after a password -------------------------------------------------------


async def second_step_options(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.post("/auth/login/mfa/passkey-options", json={"mfa_token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_second_step_with_a_passkey(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    token = await mfa_token(client, holder.account)
    asked = await second_step_options(client, token)
    allowed = asked["options"]["allowCredentials"]
    assert len(allowed) == 1
    assert allowed[0]["transports"] == ["internal", "hybrid"]
    credential = holder.device.get(asked["options"], holder.origin)
    done = await client.post("/auth/login/mfa", json={"mfa_token": token, "credential": credential})
    assert done.status_code == 200, done.text
    assert amr_of(done.json()["access_token"]) == ["pwd", "hwk"]
    spent = await client.post(
        "/auth/login/mfa", json={"mfa_token": token, "credential": credential}
    )
    assert spent.status_code == 401, spent.text
    assert spent.json()["code"] == "INVALID_TOKEN"


async def test_the_second_step_refuses_a_replay_and_another_accounts_passkey(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox, counter_step=0)
    stranger = await passkey_account(app, client, mailbox)
    token = await mfa_token(client, holder.account)
    asked = await second_step_options(client, token)
    theirs = stranger.device.get({**asked["options"], "allowCredentials": []}, stranger.origin)
    assert_passkey_refused(
        await client.post("/auth/login/mfa", json={"mfa_token": token, "credential": theirs})
    )
    # the challenge was spent by that try: the right passkey on it is refused too
    mine = holder.device.get(asked["options"], holder.origin)
    assert_passkey_refused(
        await client.post("/auth/login/mfa", json={"mfa_token": token, "credential": mine})
    )
    asked = await second_step_options(client, token)
    mine = holder.device.get(asked["options"], holder.origin)
    done = await client.post("/auth/login/mfa", json={"mfa_token": token, "credential": mine})
    assert done.status_code == 200, done.text
    assert await count_events(app, holder.account.email, "mfa_failed") == 2


async def test_passkey_tries_count_against_the_mfa_token(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    holder = await passkey_account(app, client, mailbox)
    token = await mfa_token(client, holder.account)
    for _ in range(5):
        asked = await second_step_options(client, token)
        wrong = holder.device.get(asked["options"], "https://evil.example")
        assert_passkey_refused(
            await client.post("/auth/login/mfa", json={"mfa_token": token, "credential": wrong})
        )
    dead = await client.post("/auth/login/mfa/passkey-options", json={"mfa_token": token})
    assert dead.status_code == 401, dead.text
    assert dead.json()["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize(
    "extra", [{}, {"code": "123456", "credential": {"id": "x"}}], ids=["neither", "both"]
)
async def test_the_second_step_takes_exactly_one_proof(
    client: httpx.AsyncClient, extra: dict[str, Any]
) -> None:
    response = await client.post("/auth/login/mfa", json={"mfa_token": "t" * 40, **extra})
    assert response.status_code == 422, response.text


async def test_passkey_options_need_a_live_mfa_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login/mfa/passkey-options", json={"mfa_token": "not a token at all"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "INVALID_TOKEN"


# -- under concurrency ----------------------------------------------------------------------


async def test_one_counter_value_on_many_logins_at_once_lets_one_in(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    """A cloned authenticator racing the original with one counter value, on two
    instances: the conditional update on the counter lets exactly one through."""
    async with two_instances(app, make_app) as (first, second):
        holder = await passkey_account(app, first, mailbox)
        for counter in (5, 9):
            clients = [first, second] * 4
            asked = [await usernameless_options(first) for _ in clients]
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/auth/passkey/login",
                        json={
                            "challenge_id": options["challenge_id"],
                            "credential": holder.device.get(
                                options["options"], holder.origin, sign_count=counter
                            ),
                        },
                    )
                    for http, options in zip(clients, asked, strict=True)
                )
            )
            assert Counter(answer.status_code for answer in answers) == {200: 1, 401: 7}
            assert (await stored_passkey(app, holder.account.email)).sign_count == counter


async def test_one_credential_registered_by_two_accounts_at_once_is_one_passkey(
    app: FastAPI, make_app: AppFactory, mailbox: Mailbox
) -> None:
    async with two_instances(app, make_app) as (first, second):
        accounts = [await logged_in(first, mailbox) for _ in range(2)]
        credential_id = os.urandom(32)
        asked = [await creation_options(first, account) for account in accounts]
        bodies = [
            {
                "challenge_id": options["challenge_id"],
                "credential": SoftAuthenticator().create(
                    options["options"], origin_of(app), credential_id=credential_id
                ),
            }
            for options in asked
        ]
        answers = await asyncio.gather(
            *(
                http.post("/users/me/passkeys", json=body, headers=account.headers)
                for http, body, account in zip((first, second), bodies, accounts, strict=True)
            )
        )
    assert sorted(answer.status_code for answer in answers) == [201, 409]

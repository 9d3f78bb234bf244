"""GET and PATCH /users/me: exactly the contract's fields, E.164 phones, and an email
change that waits for the new address to answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from tests.mailbox import Mailbox
from tests.support import (
    Account,
    logged_in,
    queued_subjects,
    register,
    register_verified,
    unique_email,
)

USER_FIELDS = {
    "id",
    "email",
    "full_name",
    "phone_number",
    "is_verified",
    "is_active",
    "pending_email",
    "mfa_enabled",
    "user_metadata",
    "app_metadata",
    "created_at",
    "updated_at",
}
CONFIRM = "Confirm your new email address"
JSON = {"Accept": "application/json"}
NOTICE = "Your email address is being changed"


async def patch(client: httpx.AsyncClient, account: Account, body: Any) -> httpx.Response:
    return await client.patch("/users/me", json=body, headers=account.headers)


def assert_invalid(response: httpx.Response, field: str, case: object = "") -> None:
    assert response.status_code == 422, (case, response.text)
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), case


async def test_me_is_exactly_the_user_object(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await logged_in(client, mailbox, full_name="Ada Lovelace")
    response = await client.get("/users/me", headers=account.headers)
    assert response.status_code == 200
    user = response.json()
    assert set(user) == USER_FIELDS
    uuid.UUID(user["id"])
    assert user["email"] == account.email
    assert user["full_name"] == "Ada Lovelace"
    assert user["phone_number"] is None
    assert user["is_verified"] is True
    assert user["is_active"] is True
    assert user["pending_email"] is None
    assert user["mfa_enabled"] is False
    assert user["user_metadata"] == {}
    assert user["app_metadata"] == {}
    for stamp in ("created_at", "updated_at"):
        assert datetime.fromisoformat(user[stamp]).utcoffset() is not None, user[stamp]
    assert "password" not in response.text
    assert "$argon2" not in response.text


async def test_patch_sets_and_clears_name_and_phone_in_e164(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    updated = await patch(client, account, {"full_name": "Ada", "phone_number": "+14155552671"})
    assert updated.status_code == 200, updated.text
    assert set(updated.json()) == USER_FIELDS
    assert updated.json()["full_name"] == "Ada"
    assert updated.json()["phone_number"] == "+14155552671"

    only_phone = await patch(client, account, {"phone_number": "+989171064369"})
    assert only_phone.json()["phone_number"] == "+989171064369"
    assert only_phone.json()["full_name"] == "Ada"

    me = (await client.get("/users/me", headers=account.headers)).json()
    assert me["phone_number"] == "+989171064369"

    cleared = await patch(client, account, {"full_name": None, "phone_number": None})
    assert cleared.status_code == 200
    assert cleared.json()["full_name"] is None
    assert cleared.json()["phone_number"] is None

    unchanged = await patch(client, account, {})
    assert unchanged.status_code == 200
    assert unchanged.json()["full_name"] is None


NOT_E164 = (
    "4155552671",
    "tel:+1-415-555-2671",
    "+1-415-555-2671",
    "+1 415 555 2671",
    "(415) 555-2671",
    "+14155552671\n",
    "+1415555267a",
    "+0123456789",
    "+10000000000",
    "+",
    "",
)


async def test_a_phone_number_not_in_e164_is_422(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """The seed answered `tel:+1-415-555-2671`; such forms are refused, not reformatted."""
    account = await logged_in(client, mailbox, phone_number="+14155552671")
    for phone in NOT_E164:
        assert_invalid(await patch(client, account, {"phone_number": phone}), "phone_number", phone)
    me = (await client.get("/users/me", headers=account.headers)).json()
    assert me["phone_number"] == "+14155552671"


async def test_unknown_or_forbidden_fields_are_422(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"is_verified": False}, "is_verified"),
        ({"is_active": False}, "is_active"),
        ({"password_hash": "x"}, "password_hash"),
        ({"pending_email": None}, "pending_email"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"email": None}, "body"),
        ({"email": "not-an-email"}, "email"),
        ({"full_name": ""}, "full_name"),
    ]
    for body, field in cases:
        assert_invalid(await patch(client, account, body), field, body)
    me = (await client.get("/users/me", headers=account.headers)).json()
    assert me["is_verified"] is True
    assert me["is_active"] is True
    assert me["email"] == account.email


async def test_patch_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.patch("/users/me", json={"full_name": "Mallory"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_email_change_waits_for_the_link_sent_to_the_new_address(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox, reuse_at_once: None
) -> None:
    account = await logged_in(client, mailbox)
    new_email = unique_email("moved")
    requested = await patch(
        client, account, {"email": new_email, "current_password": account.password}
    )
    assert requested.status_code == 200, requested.text
    assert requested.json()["email"] == account.email
    assert requested.json()["pending_email"] == new_email

    notice = await mailbox.last(account.email, NOTICE)
    assert new_email in notice.text
    confirm = await mailbox.last(new_email, CONFIRM)
    assert "/auth/verify-email?token=" in confirm.link
    assert CONFIRM not in await queued_subjects(app, account.email)

    still_old = await client.post(
        "/auth/login", json={"email": account.email, "password": account.password}
    )
    assert still_old.status_code == 200

    followed = await client.get("/auth/verify-email", params={"token": confirm.token}, headers=JSON)
    assert followed.status_code == 200, followed.text
    assert new_email in followed.json()["detail"]
    me = (await client.get("/users/me", headers=account.headers)).json()
    assert me["email"] == new_email
    assert me["pending_email"] is None
    assert me["is_verified"] is True

    with_new = await client.post(
        "/auth/login", json={"email": new_email, "password": account.password}
    )
    assert with_new.status_code == 200
    with_old = await client.post(
        "/auth/login", json={"email": account.email, "password": account.password}
    )
    assert with_old.status_code == 401
    again = await client.get("/auth/verify-email", params={"token": confirm.token}, headers=JSON)
    assert again.status_code == 400
    assert again.json()["code"] == "INVALID_TOKEN"


async def test_an_address_taken_in_any_case_is_409(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    other = await register_verified(client, mailbox)
    local, domain = other.email.split("@")
    for taken in (other.email, f"{local.upper()}@{domain}", f"{local}@{domain.upper()}"):
        response = await patch(
            client, account, {"email": taken, "current_password": account.password}
        )
        assert response.status_code == 409, (taken, response.text)
        assert response.json() == {
            "detail": "That email address belongs to another account.",
            "code": "EMAIL_TAKEN",
        }
    me = (await client.get("/users/me", headers=account.headers)).json()
    assert me["pending_email"] is None


async def test_an_address_taken_before_the_link_is_followed_is_409(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """A registration of the address does not hold it (its owner has not proven it); an
    account that proved it first does."""
    account = await logged_in(client, mailbox)
    new_email = unique_email("contested")
    body = {"email": new_email, "current_password": account.password}
    assert (await patch(client, account, body)).status_code == 200
    confirm = await mailbox.last(new_email, CONFIRM)
    assert (await register(client, new_email.upper())).status_code == 202
    registration = await mailbox.last(new_email, "Verify")
    verified = await client.post("/auth/verify-email", json={"token": registration.token})
    assert verified.status_code == 200, verified.text

    followed = await client.post("/auth/verify-email", json={"token": confirm.token})
    assert followed.status_code == 409, followed.text
    assert followed.json()["code"] == "EMAIL_TAKEN"
    me = (await client.get("/users/me", headers=account.headers)).json()
    assert me["email"] == account.email


async def test_a_pending_registration_of_the_address_does_not_block_the_change(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    new_email = unique_email("contested")
    body = {"email": new_email, "current_password": account.password}
    assert (await patch(client, account, body)).status_code == 200
    confirm = await mailbox.last(new_email, CONFIRM)
    assert (await register(client, new_email)).status_code == 202
    registration = await mailbox.last(new_email, "Verify")

    followed = await client.post("/auth/verify-email", json={"token": confirm.token})
    assert followed.status_code == 200, followed.text
    me = (await client.get("/users/me", headers=account.headers)).json()
    assert me["email"] == new_email
    late = await client.post("/auth/verify-email", json={"token": registration.token})
    assert late.status_code == 400
    assert late.json()["code"] == "INVALID_TOKEN"

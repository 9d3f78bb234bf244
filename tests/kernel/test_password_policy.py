"""The password policy: `PASSWORD_MIN_LENGTH` and a host's own `PasswordPolicy` hold at
every route that takes a new password (register, reset, a first password, change, the
reset page's form), answered in the shapes clients already read; the contract's rules
and the breached-password check still apply around a host's policy; the default is
unchanged."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import ValidationError

from fastapi_auth import create_app, mount
from fastapi_auth.kernel.password_policy import StandardPasswordPolicy
from fastapi_auth.kernel.settings import Settings, describe
from tests.conftest import AppFactory, http_client, make_settings
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import TestDatabase
from tests.support import PASSWORD, logged_in, register, unique_email

FOURTEEN = "kiwi owl grape"
FIFTEEN = "kiwi owl grapes"
COMPANY = "acme rocket skates"
LEAKED = "leaked but long enough"
COMPANY_REASON = "Do not use the company's name in a password."
BROWSER = {"Accept": "text/html"}
RESET = "Reset your password"
ACTIVATE = "Finish creating your account"


def too_short(field_name: str, min_length: int) -> dict[str, Any]:
    """What a too-short password answers today: pydantic's item, its input left out."""
    return {
        "detail": [
            {
                "type": "string_too_short",
                "loc": ["body", field_name],
                "msg": f"String should have at least {min_length} characters",
                "ctx": {"min_length": min_length},
            }
        ]
    }


def assert_refused(response: httpx.Response, field_name: str, reason: str) -> None:
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field_name]
    assert error["msg"] == reason
    assert "input" not in error


async def reset_token(client: httpx.AsyncClient, mailbox: Mailbox, email: str, subject: str) -> str:
    count = len([m for m in mailbox.to(email) if subject in m.subject]) + 1
    assert (await client.post("/auth/forgot-password", json={"email": email})).status_code == 202
    return (await mailbox.wait_for(email, subject, count=count))[-1].token


async def reset(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.post(
        "/auth/reset-password", json={"token": token, "new_password": password}
    )


async def reset_by_form(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    fields = {"token": token, "new_password": password, "confirm_password": password}
    return await client.post("/auth/reset-password", data=fields, headers=BROWSER)


async def change(client: httpx.AsyncClient, headers: dict[str, str], new: str) -> httpx.Response:
    return await client.post(
        "/users/change-password",
        json={"current_password": PASSWORD, "new_password": new},
        headers=headers,
    )


def test_the_test_passwords_have_the_lengths_they_are_named_for() -> None:
    assert (len(FOURTEEN), len(FIFTEEN)) == (14, 15)


# -- the default: 8, answered by the schema as before ---------------------------------------


async def test_the_default_refuses_seven_characters_as_before(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    refused = await register(client, unique_email(), "kiwi ow")
    assert refused.status_code == 422
    assert refused.json() == too_short("password", 8)
    assert (await register(client, unique_email(), "kiwi owl")).status_code == 202
    account = await logged_in(client, mailbox)
    assert (await change(client, account.headers, "kiwi ow")).json() == too_short("new_password", 8)
    assert (await change(client, account.headers, "kiwi owl")).status_code == 200


async def test_the_default_schema_and_page_say_eight(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for name, field_name in (
        ("RegisterRequest", "password"),
        ("ChangePasswordRequest", "new_password"),
    ):
        assert schema["components"]["schemas"][name]["properties"][field_name]["minLength"] == 8
    page = await client.get("/reset-password", params={"token": "x"})
    assert page.text.count('minlength="8"') == 2


# -- PASSWORD_MIN_LENGTH=15: refused everywhere, in the schema's own shape ------------------


@pytest.fixture
async def fifteen(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(await make_app(password_min_length=15)) as http:
        yield http


async def test_fifteen_refuses_fourteen_at_registration(fifteen: httpx.AsyncClient) -> None:
    refused = await register(fifteen, unique_email(), FOURTEEN)
    assert refused.status_code == 422
    assert refused.json() == too_short("password", 15)
    assert (await register(fifteen, unique_email(), FIFTEEN)).status_code == 202


async def test_fifteen_refuses_fourteen_at_reset_and_change(
    fifteen: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(fifteen, mailbox)
    refused = await change(fifteen, account.headers, FOURTEEN)
    assert refused.json() == too_short("new_password", 15)
    token = await reset_token(fifteen, mailbox, account.email, RESET)
    refused = await reset(fifteen, token, FOURTEEN)
    assert refused.status_code == 422
    assert refused.json() == too_short("new_password", 15)
    assert (await reset(fifteen, token, FIFTEEN)).status_code == 200, "the link is unspent"


async def test_fifteen_refuses_fourteen_on_the_reset_page(
    fifteen: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(fifteen, mailbox)
    token = await reset_token(fifteen, mailbox, account.email, RESET)
    page = await fifteen.get("/reset-password", params={"token": token})
    assert page.text.count('minlength="15"') == 2, "the browser checks it before sending"
    refused = await reset_by_form(fifteen, token, FOURTEEN)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert "String should have at least 15 characters" in refused.text
    assert 'minlength="15"' in refused.text, "the form again, with the same rule"
    assert (await reset_by_form(fifteen, token, FIFTEEN)).status_code == 200


async def test_fifteen_refuses_fourteen_as_a_first_password(
    fifteen: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """An address with only a registration gets a link to choose the password."""
    email = unique_email()
    assert (await register(fifteen, email, FIFTEEN)).status_code == 202
    token = await reset_token(fifteen, mailbox, email, ACTIVATE)
    assert (await reset(fifteen, token, FOURTEEN)).json() == too_short("new_password", 15)
    assert (await reset(fifteen, token, FIFTEEN)).status_code == 200


async def test_fifteen_is_in_the_docs(fifteen: httpx.AsyncClient) -> None:
    schema = (await fifteen.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert components["RegisterRequest"]["properties"]["password"]["minLength"] == 15
    assert components["ChangePasswordRequest"]["properties"]["new_password"]["minLength"] == 15
    reset_body = schema["paths"]["/auth/reset-password"]["post"]["requestBody"]["content"]
    json_reset = reset_body["application/json"]["schema"]["properties"]["new_password"]
    assert json_reset["minLength"] == 15
    assert components["ChangePasswordRequest"]["properties"]["current_password"]["minLength"] == 1


async def test_another_apps_docs_keep_their_own_length(
    fifteen: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    """The routes' documented bodies are shared objects: one app's length is not another's."""
    await fifteen.get("/openapi.json")
    schema = (await client.get("/openapi.json")).json()
    reset_body = schema["paths"]["/auth/reset-password"]["post"]["requestBody"]["content"]
    assert reset_body["application/json"]["schema"]["properties"]["new_password"]["minLength"] == 8


@pytest.mark.parametrize("length", [0, 7, 129])
def test_the_setting_stays_within_the_contract(length: int) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, password_min_length=length)
    assert describe(raised.value).startswith("configuration error: PASSWORD_MIN_LENGTH: ")


@pytest.mark.parametrize("length", [7, 129])
def test_the_standard_policy_stays_within_the_contract(length: int) -> None:
    with pytest.raises(ValueError, match="min_length"):
        StandardPasswordPolicy(length)


# -- a host's own policy --------------------------------------------------------------------


@dataclass
class NoCompanyName:
    """A host's rule: the company's name is the first guess against its staff."""

    seen: list[str | None] = field(default_factory=list)

    async def weakness(self, password: str, *, email: str | None) -> str | None:
        self.seen.append(email)
        return COMPANY_REASON if "acme" in password.casefold() else None


@dataclass
class FakeBreachedList:
    asked: int = 0

    async def is_breached(self, password: str) -> bool:
        self.asked += 1
        return password == LEAKED

    async def aclose(self) -> None:
        return None


@dataclass
class Policed:
    client: httpx.AsyncClient
    policy: NoCompanyName
    breached: FakeBreachedList


@pytest.fixture
async def policed(database: TestDatabase, smtp: SmtpCapture) -> AsyncIterator[Policed]:
    policy, breached = NoCompanyName(), FakeBreachedList()
    application = create_app(
        make_settings(database, smtp), password_policy=policy, breached_passwords=breached
    )
    async with LifespanManager(application), http_client(application) as http:
        yield Policed(http, policy, breached)


async def test_a_policy_is_honoured_at_registration_with_its_reason(policed: Policed) -> None:
    email = unique_email()
    assert_refused(await register(policed.client, email, COMPANY), "password", COMPANY_REASON)
    assert policed.policy.seen[-1] == email, "the policy is told the address"
    assert (await register(policed.client, unique_email(), PASSWORD)).status_code == 202


async def test_a_policy_is_honoured_at_reset_change_and_first_password(
    policed: Policed, mailbox: Mailbox
) -> None:
    http = policed.client
    account = await logged_in(http, mailbox)
    assert_refused(await change(http, account.headers, COMPANY), "new_password", COMPANY_REASON)
    assert policed.policy.seen[-1] == account.email
    token = await reset_token(http, mailbox, account.email, RESET)
    assert_refused(await reset(http, token, COMPANY), "new_password", COMPANY_REASON)
    refused_page = await reset_by_form(http, token, COMPANY)
    assert refused_page.status_code == 422
    assert "Do not use the company&#39;s name in a password." in refused_page.text
    assert (await reset(http, token, "a passphrase of my own")).status_code == 200

    email = unique_email()
    assert (await register(http, email, PASSWORD)).status_code == 202
    first = await reset_token(http, mailbox, email, ACTIVATE)
    assert_refused(await reset(http, first, COMPANY), "new_password", COMPANY_REASON)
    assert policed.policy.seen[-1] == email


async def test_the_standard_rules_and_the_breached_check_still_apply(
    policed: Policed, mailbox: Mailbox
) -> None:
    """A policy adds refusals and removes none: the bundled list is checked before it,
    the breached-password check after it (and not asked about what it refused)."""
    http = policed.client
    common = await register(http, unique_email(), "sunshine")
    assert common.status_code == 422
    assert "common" in common.json()["detail"][0]["msg"]
    account = await logged_in(http, mailbox)
    same_as_email = await change(http, account.headers, account.email)
    assert_refused(same_as_email, "new_password", "The password must not be your email address.")
    asked = policed.breached.asked
    await register(http, unique_email(), COMPANY)
    assert policed.breached.asked == asked, "refused by the policy: never sent onwards"
    leaked = await register(http, unique_email(), LEAKED)
    assert leaked.status_code == 422
    assert "breach" in leaked.json()["detail"][0]["msg"]


async def test_mount_takes_a_policy(database: TestDatabase, smtp: SmtpCapture) -> None:
    host = FastAPI()
    mount(host, make_settings(database, smtp), prefix="/id", password_policy=NoCompanyName())
    async with LifespanManager(host), http_client(host) as http:
        answer = await http.post(
            "/id/auth/register", json={"email": unique_email(), "password": COMPANY}
        )
        assert_refused(answer, "password", COMPANY_REASON)
        page = await http.get("/id/reset-password", params={"token": "x"})
        assert re.search(r'minlength="8"', page.text)

"""The access token's issuer and audience are settings of their own: renaming the product
keeps everyone signed in; changing the issuer or the audience is what ends the tokens."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from fastapi_auth import Settings
from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.support import assert_invalid_token, logged_in, settings_of


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_the_claims_are_frontend_url_and_fastapi_auth_by_default(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    claims = claims_of(account.access_token)
    assert claims["iss"] == settings_of(app).public_url == "http://localhost:8000"
    assert claims["aud"] == "fastapi-auth"


async def test_renaming_the_product_keeps_a_token_valid(
    client: httpx.AsyncClient, mailbox: Mailbox, make_app: AppFactory
) -> None:
    account = await logged_in(client, mailbox)
    renamed = await make_app(
        app_name="Acme Accounts",
        app_logo_url="https://cdn.acme.example/logo.png",
        app_primary_color="#aa3300",
        email_dispatcher_enabled=False,
    )
    async with http_client(renamed) as http:
        me = await http.get("/users/me", headers=account.headers)
    assert me.status_code == 200, me.text


async def test_changing_the_issuer_or_the_audience_ends_a_token(
    client: httpx.AsyncClient, mailbox: Mailbox, make_app: AppFactory
) -> None:
    account = await logged_in(client, mailbox)
    for changed in (
        {"jwt_issuer": "https://accounts.acme.example"},
        {"frontend_url": "https://accounts.acme.example"},
        {"jwt_audience": "acme-api"},
    ):
        other = await make_app(email_dispatcher_enabled=False, **changed)
        async with http_client(other) as http:
            assert_invalid_token(await http.get("/users/me", headers=account.headers))


async def test_a_configured_issuer_and_audience_are_the_tokens(
    make_app: AppFactory, mailbox: Mailbox
) -> None:
    app = await make_app(
        jwt_issuer="https://accounts.acme.example", jwt_audience="acme-api", app_name="Acme"
    )
    async with http_client(app) as http:
        account = await logged_in(http, mailbox)
        assert (await http.get("/users/me", headers=account.headers)).status_code == 200
    claims = claims_of(account.access_token)
    assert (claims["iss"], claims["aud"]) == ("https://accounts.acme.example", "acme-api")


def test_project_name_still_names_the_product_but_never_the_issuer() -> None:
    """PROJECT_NAME, APP_NAME's deprecated name: it was once the issuer too."""
    old = Settings(_env_file=None, project_name="Acme")
    assert (old.app_name, old.token_issuer) == ("Acme", "http://localhost:8000")
    both = Settings(_env_file=None, project_name="Old", app_name="New")
    assert both.app_name == "New"


async def test_the_authenticator_app_shows_the_display_name_not_the_token_issuer(
    make_app: AppFactory, mailbox: Mailbox
) -> None:
    """The otpauth URI's issuer is what an authenticator app lists the account under:
    the product's name, like every other place a person reads it."""
    app = await make_app(app_name="Acme Notes", jwt_issuer="https://accounts.acme.example")
    async with http_client(app) as http:
        account = await logged_in(http, mailbox)
        setup = await http.post(
            "/users/me/mfa/totp/setup", json={"password": account.password}, headers=account.headers
        )
    assert setup.status_code == 200, setup.text
    uri = setup.json()["otpauth_uri"]
    assert "issuer=Acme%20Notes" in uri
    assert "accounts.acme.example" not in uri

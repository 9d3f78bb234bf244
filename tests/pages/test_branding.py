"""The pages' name, logo, colour and sign-in link, and the policy that lets exactly those in."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.support import logged_in, register, unique_email

BROWSER = {"Accept": "text/html"}
SIGN_IN = "https://app.acme.example/login"
SIGN_IN_LINK = f'<a id="sign-in" class="button" href="{SIGN_IN}">Sign in</a>'


def policy_of(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in header
    return {item.split()[0]: item.split()[1:] for item in header.split("; ")}


def style_of(page: httpx.Response) -> str:
    [style] = re.findall(r"<style>(.*?)</style>", page.text, re.S)
    return str(style)


def hash_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


async def test_the_colour_is_one_style_element_the_policy_allows_by_its_hash(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/reset-password", params={"token": "abc"})
    assert style_of(page) == ":root{--fa-primary:#1d4ed8;--fa-on-primary:#ffffff}"
    policy = policy_of(page)
    assert policy["style-src"] == ["'self'", hash_source(style_of(page))]
    assert policy["img-src"] == ["'self'"], "no logo, no other image source"
    assert "style=" not in page.text, "no inline style attribute (the policy blocks them)"
    assert '<span id="app-name">fastapi-auth</span>' in page.text


async def test_a_logo_adds_its_origin_to_img_src_and_nothing_else(
    client: httpx.AsyncClient, make_app: AppFactory
) -> None:
    app = await make_app(
        app_name="Acme",
        app_logo_url="https://CDN.acme.example:8443/brand/logo.png?v=2",
        app_primary_color="#FFCC00",
    )
    default = policy_of(await client.get("/reset-password", params={"token": "abc"}))
    async with http_client(app) as http:
        page = await http.get("/reset-password", params={"token": "abc"})
    policy = policy_of(page)
    assert policy["img-src"] == ["'self'", "https://cdn.acme.example:8443"]
    assert policy["style-src"] == ["'self'", hash_source(style_of(page))]
    assert {
        name: value for name, value in policy.items() if name not in {"img-src", "style-src"}
    } == {name: value for name, value in default.items() if name not in {"img-src", "style-src"}}
    # Dark text on a light colour, so the buttons stay readable.
    assert style_of(page) == ":root{--fa-primary:#ffcc00;--fa-on-primary:#111111}"
    assert '<img id="logo" src="https://CDN.acme.example:8443/brand/logo.png?v=2" alt="Acme">' in (
        page.text
    )
    assert "<title>Choose a new password · Acme</title>" in page.text


async def test_the_name_is_text_wherever_it_is_shown(make_app: AppFactory) -> None:
    app = await make_app(app_name='Acme "<script>alert(1)</script>')
    async with http_client(app) as http:
        page = await http.get("/reset-password", params={"token": "abc"})
    assert "<script>alert" not in page.text
    assert "Acme &#34;&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.fixture
async def signing_in(make_app: AppFactory) -> FastAPI:
    return await make_app(sign_in_url=SIGN_IN)


async def test_a_verified_address_and_a_set_password_offer_the_sign_in_link(
    signing_in: FastAPI, mailbox: Mailbox
) -> None:
    email = unique_email()
    async with http_client(signing_in) as http:
        assert (await register(http, email)).status_code == 202
        token = (await mailbox.last(email, "Verify")).token
        before = await http.get("/auth/verify-email", params={"token": token}, headers=BROWSER)
        assert before.status_code == 200
        assert "Sign in" not in before.text, "not before the button is pressed"
        verified = await http.post("/auth/verify-email", data={"token": token}, headers=BROWSER)
        assert verified.status_code == 200
        assert "is verified" in verified.text
        assert SIGN_IN_LINK in verified.text

        spent = await http.post("/auth/verify-email", data={"token": "not-a-token"})
        assert spent.status_code == 400
        assert "Sign in" not in spent.text

        assert (await http.post("/auth/forgot-password", json={"email": email})).status_code == 202
        reset = (await mailbox.last(email, "Reset")).token
        form = await http.get("/reset-password", params={"token": reset})
        # Shown by the form's script once the password is set (the page itself says nothing yet).
        assert f'<p id="sign-in-after" hidden>{SIGN_IN_LINK}</p>' in form.text
        new_password = "a brand new passphrase"
        done = await http.post(
            "/auth/reset-password",
            data={"token": reset, "new_password": new_password, "confirm_password": new_password},
        )
        assert done.status_code == 200
        assert "Your password has been set" in done.text
        assert SIGN_IN_LINK in done.text


async def test_a_cancelled_email_change_offers_no_sign_in_link(
    signing_in: FastAPI, mailbox: Mailbox
) -> None:
    """Every session just ended because someone else may have the password: resetting it,
    not signing in, is what comes next."""
    async with http_client(signing_in) as http:
        owner = await logged_in(http, mailbox)
        changed = await http.patch(
            "/users/me",
            json={"email": unique_email("new"), "current_password": owner.password},
            headers=owner.headers,
        )
        assert changed.status_code == 200
        notice = await mailbox.last(owner.email, "being changed")
        pressed = await http.post("/auth/cancel-email-change", data={"token": notice.token})
    assert pressed.status_code == 200
    assert "was cancelled" in pressed.text
    assert "Sign in" not in pressed.text


async def test_without_a_sign_in_url_there_is_no_link(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email()
    assert (await register(client, email)).status_code == 202
    token = (await mailbox.last(email, "Verify")).token
    verified = await client.post("/auth/verify-email", data={"token": token}, headers=BROWSER)
    assert verified.status_code == 200
    assert "is verified" in verified.text
    assert "sign-in" not in verified.text
    form = await client.get("/reset-password", params={"token": "abc"})
    assert "sign-in" not in form.text

"""Passkeys in a real browser: Debian's Chromium, driven by Playwright, with Chromium's
virtual authenticator (CDP `WebAuthn.addVirtualAuthenticator`), on a page the app serves.

The options go through `PublicKeyCredential.parseCreationOptionsFromJSON` /
`parseRequestOptionsFromJSON` and the credentials come back through `toJSON()`, so the
JSON shapes are proven against a browser and not only against the software
authenticator of the other tests. The RP id must be a domain, so the app is reached as
`http://localhost:PORT` (an RP id `127.0.0.1` is refused by the browser).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from fastapi_auth import create_app
from tests.conftest import make_settings
from tests.mailbox import Mailbox, SmtpCapture, free_port
from tests.services import TestDatabase
from tests.support import Account, login, register_verified

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

# The reference snippet for a front end: what a page does to register a passkey, to log
# in with one (no username), and to answer a login's second step with one.
FRONT_END = """
async function post(path, body, token) {
  const headers = {"Content-Type": "application/json"};
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const response = await fetch(path, {method: "POST", headers, body: JSON.stringify(body ?? {})});
  return {status: response.status, body: await response.json()};
}

async function registerPasskey(accessToken, name) {
  const {body: {challenge_id, options}} =
    await post("/users/me/passkeys/options", null, accessToken);
  const credential = await navigator.credentials.create(
    {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)});
  return post(
    "/users/me/passkeys", {challenge_id, credential: credential.toJSON(), name}, accessToken);
}

async function logInWithPasskey() {
  const {body: {challenge_id, options}} = await post("/auth/passkey/options");
  const credential = await navigator.credentials.get(
    {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
  return post("/auth/passkey/login", {challenge_id, credential: credential.toJSON()});
}

async function secondStepWithPasskey(mfa_token) {
  const {body: {options}} = await post("/auth/login/mfa/passkey-options", {mfa_token});
  const credential = await navigator.credentials.get(
    {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
  return post("/auth/login/mfa", {mfa_token, credential: credential.toJSON()});
}
"""


@contextlib.asynccontextmanager
async def serving(database: TestDatabase, smtp: SmtpCapture) -> AsyncIterator[str]:
    """The service on a real socket, reached by the name `localhost`."""
    port = free_port()
    url = f"http://localhost:{port}"
    app = create_app(make_settings(database, smtp, frontend_url=url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


async def with_virtual_authenticator(page: Page) -> None:
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable", {"enableUI": False})
    await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def amr_of(answer: dict[str, Any]) -> list[str]:
    claims: dict[str, Any] = jwt.decode(
        answer["body"]["access_token"], options={"verify_signature": False}
    )
    amr: list[str] = claims["amr"]
    return amr


async def test_register_a_passkey_and_log_in_with_it_in_chromium(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox, browser: Browser
) -> None:
    async with serving(database, smtp) as url, httpx.AsyncClient(base_url=url) as http:
        account: Account = await login(http, await register_verified(http, mailbox))
        # bypass_csp: the snippet is injected by the test; a front end ships it as a file
        context = await browser.new_context(bypass_csp=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{url}/health/live")
        assert await page.evaluate("window.isSecureContext") is True
        await with_virtual_authenticator(page)
        await page.add_script_tag(content=FRONT_END)

        added = await page.evaluate(
            "([token]) => registerPasskey(token, 'Chromium')", [account.access_token]
        )
        assert added["status"] == 201, added
        assert added["body"]["passkey"]["name"] == "Chromium"
        assert added["body"]["passkey"]["transports"] == ["internal"]
        assert len(added["body"]["recovery_codes"]) == 10

        # the account's passkeys are excluded: the same authenticator cannot add it again
        with pytest.raises(Exception, match="InvalidStateError"):
            await page.evaluate(
                "([token]) => registerPasskey(token, 'again')", [account.access_token]
            )

        for _ in range(2):  # the virtual authenticator's counter moves on each time
            done = await page.evaluate("logInWithPasskey()")
            assert done["status"] == 200, done
            assert amr_of(done) == ["hwk"]

        asked = await http.post(
            "/auth/login", json={"email": account.email, "password": account.password}
        )
        assert asked.status_code == 403, asked.text
        assert "passkey" in asked.json()["mfa_methods"]
        second = await page.evaluate(
            "([token]) => secondStepWithPasskey(token)", [asked.json()["mfa_token"]]
        )
        assert second["status"] == 200, second
        assert amr_of(second) == ["pwd", "hwk"]
        assert errors == []
        await context.close()

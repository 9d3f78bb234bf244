"""The emailed links, opened in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Route, async_playwright

from fastapi_auth import create_app
from tests.conftest import make_settings
from tests.mailbox import Mailbox, SmtpCapture, free_port
from tests.services import TestDatabase
from tests.support import PASSWORD, unique_email

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def serving(
    database: TestDatabase, smtp: SmtpCapture, **overrides: Any
) -> AsyncIterator[str]:
    """The service on a real socket, because a browser cannot speak ASGI."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(database, smtp, frontend_url=url, **overrides))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def server_url(database: TestDatabase, smtp: SmtpCapture) -> AsyncIterator[str]:
    async with serving(database, smtp) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


async def test_verify_link_and_reset_form_work_in_a_browser(
    server_url: str, browser: Browser, mailbox: Mailbox
) -> None:
    email = unique_email("browser")
    async with httpx.AsyncClient(base_url=server_url) as http:
        await http.post("/auth/register", json={"email": email, "password": PASSWORD})
        verify_link = (await mailbox.last(email, "Verify")).link
        assert verify_link.startswith(f"{server_url}/auth/verify-email?token=")

        page = await browser.new_page()
        response = await page.goto(verify_link)
        assert response is not None
        assert response.status == 200
        not_yet = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert not_yet.json()["code"] == "EMAIL_NOT_VERIFIED"
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{server_url}/auth/verify-email")
        assert "verified" in (await page.text_content("#message") or "")

        await http.post("/auth/forgot-password", json={"email": email})
        reset_link = (await mailbox.last(email, "Reset")).link
        assert reset_link.startswith(f"{server_url}/reset-password?token=")

        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(reset_link)
        new_password = "a brand new passphrase"
        await page.fill("#new_password", new_password)
        await page.fill("#confirm_password", "not the same one")
        await page.click("button[type=submit]")
        await page.wait_for_selector("#message.error")
        await page.fill("#confirm_password", new_password)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#message.ok")
        assert "password has been set" in (await page.text_content("#message") or "")
        assert errors == []

        old = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        new = await http.post("/auth/login", json={"email": email, "password": new_password})
        assert (old.status_code, new.status_code) == (401, 200)

        await page.goto(reset_link)
        await page.fill("#new_password", "yet another passphrase")
        await page.fill("#confirm_password", "yet another passphrase")
        await page.click("button[type=submit]")
        await page.wait_for_selector("#message.error")
        assert "already used" in (await page.text_content("#message") or "")


async def test_the_reset_form_works_without_javascript(
    server_url: str, browser: Browser, mailbox: Mailbox
) -> None:
    """An ordinary form post, answered with a page: the password never enters a URL."""
    email = unique_email("noscript")
    async with httpx.AsyncClient(base_url=server_url) as http:
        await http.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = (await mailbox.last(email, "Verify")).token
        assert (await http.post("/auth/verify-email", json={"token": token})).status_code == 200
        await http.post("/auth/forgot-password", json={"email": email})
        reset_link = (await mailbox.last(email, "Reset")).link

        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        new_password = "a form posted passphrase"
        await page.goto(reset_link)
        await page.fill("#new_password", new_password)
        await page.fill("#confirm_password", "not the same one")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{server_url}/auth/reset-password")
        assert "differ" in (await page.text_content("#message") or "")
        await page.fill("#new_password", new_password)
        await page.fill("#confirm_password", new_password)
        await page.click("button[type=submit]")
        await page.wait_for_selector("h1:has-text('Password set')")
        assert new_password not in page.url
        await context.close()

        new = await http.post("/auth/login", json={"email": email, "password": new_password})
        assert new.status_code == 200


LOGO = "https://cdn.acme.example/brand/logo.png"
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_a_branded_page_draws_its_colour_and_logo_under_its_policy(
    database: TestDatabase, smtp: SmtpCapture, browser: Browser, mailbox: Mailbox
) -> None:
    """The colour's `<style>` runs by its hash and the logo loads from its origin, while an
    image from anywhere else is still refused; after the reset the sign-in link shows."""
    branding = {
        "app_name": "Acme",
        "app_logo_url": LOGO,
        "app_primary_color": "#aa3300",
        "sign_in_url": "https://app.acme.example/login",
    }
    email = unique_email("branded")
    async with (
        serving(database, smtp, **branding) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        await http.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = (await mailbox.last(email, "Verify")).token
        assert (await http.post("/auth/verify-email", json={"token": token})).status_code == 200
        await http.post("/auth/forgot-password", json={"email": email})
        reset_link = (await mailbox.last(email, "Reset")).link

        page = await browser.new_page()
        fetched: list[str] = []

        async def cdn(route: Route) -> None:
            fetched.append(route.request.url)
            await route.fulfill(status=200, content_type="image/png", body=PIXEL)

        await page.route("https://**/*.png", cdn)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(reset_link)
        await page.wait_for_function("document.getElementById('logo').complete")
        assert await page.evaluate("document.getElementById('logo').naturalWidth") == 1
        background = await page.evaluate(
            "getComputedStyle(document.querySelector('button')).backgroundColor"
        )
        assert background == "rgb(170, 51, 0)", "the colour's style element was applied"
        assert errors == [], "nothing on the page broke its policy"

        refused = await page.evaluate(
            """() => new Promise((resolve) => {
                document.addEventListener("securitypolicyviolation",
                    (event) => resolve(event.violatedDirective));
                const image = new Image();
                image.src = "https://elsewhere.example/x.png";
                document.body.append(image);
            })"""
        )
        assert refused == "img-src"
        assert fetched == [LOGO]

        new_password = "a branded new passphrase"
        await page.fill("#new_password", new_password)
        await page.fill("#confirm_password", new_password)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#message.ok")
        await page.wait_for_selector("#sign-in-after:not([hidden])")
        assert await page.get_attribute("#sign-in", "href") == branding["sign_in_url"]

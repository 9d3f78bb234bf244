"""The emailed links, opened in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

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


@pytest.fixture
async def server_url(database: TestDatabase, smtp: SmtpCapture) -> AsyncIterator[str]:
    """The service on a real socket, because a browser cannot speak ASGI."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(database, smtp, frontend_url=url))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.02)
    yield url
    server.should_exit = True
    await task


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

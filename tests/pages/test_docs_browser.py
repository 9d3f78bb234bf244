"""Swagger UI and ReDoc draw the API in headless Chromium with every request beyond this
machine refused, under the pages' own policies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from playwright.async_api import Browser, Route, async_playwright

from fastapi_auth import create_app
from tests.conftest import make_settings
from tests.mailbox import SmtpCapture, free_port
from tests.pages.test_browser import CHROMIUM, CHROMIUM_FLAGS
from tests.services import TestDatabase

pytestmark = pytest.mark.browser

REDOC_CREDIT_LOGO = "cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's sidebar credit always tries this image; the page's policy blocks it before any
request is made, and the credit shows as text."""


@pytest.fixture
async def docs_url(database: TestDatabase, smtp: SmtpCapture) -> AsyncIterator[str]:
    port = free_port()
    app = create_app(make_settings(database, smtp, email_dispatcher_enabled=False))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


async def test_the_docs_draw_with_nothing_from_outside(docs_url: str, browser: Browser) -> None:
    page = await browser.new_page()
    outside: list[str] = []
    errors: list[str] = []

    async def only_this_server(route: Route) -> None:
        if route.request.url.startswith(f"{docs_url}/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_this_server)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    await page.goto(f"{docs_url}/docs")
    await page.wait_for_selector(".opblock-summary-path")
    paths = await page.locator(".opblock-summary-path").all_inner_texts()
    assert "/users/me" in paths
    assert "/auth/login" in paths
    assert await page.locator("button.authorize").is_visible()

    await page.goto(f"{docs_url}/redoc")
    await page.wait_for_selector("[data-section-id='tag/users']")
    assert await page.locator("[data-section-id]").count() > 10

    assert outside == []
    assert [error for error in errors if REDOC_CREDIT_LOGO not in error] == []

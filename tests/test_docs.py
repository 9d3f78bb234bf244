"""/docs and /redoc work offline: every script, style and icon they reference is served
by the app itself, none inline, under a policy that runs this origin's scripts only."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI

from fastapi_auth import build_runtime, install
from tests.conftest import http_client
from tests.support import settings_of

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """What a page loads: `src` of scripts, `href` of stylesheets and icons, and the
    scripts it carries inline (a JSON data block does not run, so it is not one)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            if values.get("src"):
                self.loaded.append(str(values["src"]))
            elif values.get("type") != "application/json":
                self.inline_scripts += 1
        if tag == "link" and values.get("href"):
            self.loaded.append(str(values["href"]))
        for event in (name for name in values if name.startswith("on")):
            raise AssertionError(f"inline handler {event} on <{tag}>")


def references(page: httpx.Response) -> References:
    parser = References()
    parser.feed(page.text)
    return parser


def policy_of(response: httpx.Response) -> dict[str, list[str]]:
    return {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["Content-Security-Policy"].split("; ")
    }


@pytest.mark.parametrize("path", PAGES)
async def test_a_docs_page_loads_only_its_own_assets(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = references(page)
    assert found.loaded, page.text
    assert found.inline_scripts == 0, page.text
    assert "cdn." not in page.text
    for url in found.loaded:
        assert url.startswith("/docs/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), url
        assert len(asset.content) > 0, url
        assert "no-store" not in asset.headers.get("Cache-Control", ""), url


@pytest.mark.parametrize("path", PAGES)
async def test_a_docs_page_runs_only_scripts_of_this_origin(
    client: httpx.AsyncClient, path: str
) -> None:
    policy = policy_of(await client.get(path))
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]


async def test_swagger_ui_is_configured_with_the_schema_and_the_oauth2_redirect(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/docs")).text
    assert '"openapiUrl": "/openapi.json"' in page
    assert '"oauth2RedirectUrl": "/docs/oauth2-redirect"' in page
    assert '"dom_id": "#swagger-ui"' in page
    assert 'src="/docs/assets/swagger-ui-bundle.js"' in page
    assert 'src="/docs/scripts/swagger-init.js"' in page
    assert 'spec-url="/openapi.json"' in (await client.get("/redoc")).text


async def test_behind_a_path_prefix_the_pages_point_under_it(app: FastAPI) -> None:
    async with http_client(app, root_path="/identity") as prefixed:
        page = await prefixed.get("/docs")
    found = references(page)
    assert found.loaded
    assert all(url.startswith("/identity/docs/") for url in found.loaded), found.loaded
    assert '"openapiUrl": "/identity/openapi.json"' in page.text


async def test_the_schema_is_unchanged_and_lists_no_docs_route(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The same schema as an app with FastAPI's own docs pages and the same routes."""
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    schema = response.json()
    with_cdn_docs = FastAPI(
        title=app.title,
        version=app.version,
        description=app.description,
        openapi_tags=app.openapi_tags,
    )
    install(with_cdn_docs, build_runtime(settings_of(app)))
    assert schema == with_cdn_docs.openapi()
    assert not [path for path in schema["paths"] if path.startswith(("/docs", "/redoc"))]


async def test_fastapis_own_cdn_pages_are_off(app: FastAPI) -> None:
    assert app.docs_url is None
    assert app.redoc_url is None

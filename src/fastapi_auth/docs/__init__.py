"""Swagger UI and ReDoc served from this process, for a standalone app.

FastAPI's own pages load their scripts and styles from a CDN, so the docs stay blank
where the service has no way out to the internet, and whoever runs that CDN runs script
on the page where a developer pastes a token. The bundles come from `fastapi-offline`
(Swagger UI 5 and ReDoc 2, MIT; only its files are used, since its `FastAPIOffline`
builds an app of its own). The pages carry no inline script (their settings travel as a
JSON data block that a script of ours reads), so each has a policy that runs only
scripts of this origin.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
"""The bundles, under `/docs` so the security headers treat them as the docs: cacheable,
and without the API's page policy."""
SCRIPTS_URL = "/docs/scripts"

BUNDLE_DIR = Path(str(files("fastapi_offline").joinpath("static")))
SCRIPTS_DIR = Path(__file__).parent / "static"

SWAGGER_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""Swagger UI sets styles only through the DOM, which a policy does not block; its
stylesheet draws icons from `data:` URLs; "Try it out" calls this origin only."""
REDOC_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src blob:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""ReDoc writes its styles into `<style>` elements (styled-components) and runs its
search in a worker made from a `blob:` URL; its scripts are still this origin's only."""


def _json_for_html(value: Any) -> str:
    """JSON that cannot end the element it is written into (`</script>`)."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(title: str, head: str, body: str, policy: str) -> HTMLResponse:
    content = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
{head}
</head>
<body>
{body}
</body>
</html>
"""
    return HTMLResponse(content, headers={"Content-Security-Policy": policy})


def install_offline_docs(app: FastAPI) -> None:
    """`/docs` (with its OAuth2 redirect) and `/redoc` on an app made with
    `docs_url=None, redoc_url=None`, on the assets this package ships. Nothing when the
    app publishes no schema."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    app.mount(ASSETS_URL, StaticFiles(directory=BUNDLE_DIR), name="fastapi-auth-docs-assets")
    app.mount(SCRIPTS_URL, StaticFiles(directory=SCRIPTS_DIR), name="fastapi-auth-docs-scripts")
    redirect_url = app.swagger_ui_oauth2_redirect_url

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        config = {
            "openapiUrl": f"{root}{openapi_url}",
            "oauth2RedirectUrl": f"{root}{redirect_url}" if redirect_url else None,
            "parameters": {**swagger_ui_default_parameters, **(app.swagger_ui_parameters or {})},
            "initOAuth": app.swagger_ui_init_oauth,
        }
        head = (
            f'<link rel="icon" type="image/png" href="{root}{ASSETS_URL}/favicon.png">\n'
            f'<link rel="stylesheet" href="{root}{ASSETS_URL}/swagger-ui.css">'
        )
        body = (
            '<div id="swagger-ui"></div>\n'
            f'<script type="application/json" id="swagger-ui-config">{_json_for_html(config)}'
            "</script>\n"
            f'<script src="{root}{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{root}{SCRIPTS_URL}/swagger-init.js"></script>'
        )
        return _page(f"{app.title} - Swagger UI", head, body, SWAGGER_CSP)

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False)
        async def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "")
            body = f'<script src="{root}{SCRIPTS_URL}/oauth2-redirect.js"></script>'
            return _page("Swagger UI: OAuth2 Redirect", "", body, SWAGGER_CSP)

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        head = f'<link rel="icon" type="image/png" href="{root}{ASSETS_URL}/favicon.png">'
        body = (
            f'<redoc spec-url="{html.escape(root + openapi_url)}"></redoc>\n'
            f'<script src="{root}{ASSETS_URL}/redoc.standalone.js"></script>'
        )
        return _page(f"{app.title} - ReDoc", head, body, REDOC_CSP)

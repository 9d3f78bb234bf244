"""Security headers on every kind of response, and CORS only for CORS_ORIGINS."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.support import logged_in

ALLOWED_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://evil.example.net"


def assert_baseline_headers(response: httpx.Response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health/live", 200),
        ("GET", "/users/me", 401),
        ("GET", "/no/such/page", 404),
        ("PUT", "/auth/login", 405),
        ("POST", "/auth/forgot-password", 422),
    ],
)
async def test_json_responses_carry_the_headers_and_are_not_cached(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, json={})
    assert response.status_code == status
    assert_baseline_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


async def test_token_responses_are_never_stored(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    refreshed = await client.post("/auth/refresh", json={"refresh_token": account.refresh_token})
    assert refreshed.status_code == 200
    login = await client.post(
        "/auth/login", json={"email": account.email, "password": account.password}
    )
    for response in (refreshed, login):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
        assert_baseline_headers(response)


async def test_a_413_carries_the_headers(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/register", content=b"x" * 70_000)
    assert response.status_code == 413
    assert_baseline_headers(response)


async def test_a_500_carries_the_headers(app: FastAPI) -> None:
    async def explode() -> None:
        raise RuntimeError("boom")

    app.router.add_api_route("/__explode_headers", explode)
    try:
        async with http_client(app, raise_app_exceptions=False) as http:
            response = await http.get("/__explode_headers")
    finally:
        app.router.routes.pop()
    assert response.status_code == 500
    assert_baseline_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/reset-password?token=abc", {}),
        ("/auth/verify-email?token=abc", {"Accept": "text/html"}),
    ],
)
async def test_html_pages_have_a_strict_content_security_policy(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    response = await client.get(path, headers=headers)
    assert response.headers["content-type"].startswith("text/html")
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["Content-Security-Policy"].split("; ")
    }
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert_baseline_headers(response)


async def test_json_has_no_page_policy_and_docs_have_their_own(
    client: httpx.AsyncClient,
) -> None:
    """The docs keep the policy they set (tests/test_docs.py checks what it allows)
    rather than the pages' one, which would stop ReDoc drawing."""
    assert "Content-Security-Policy" not in (await client.get("/health/live")).headers
    for path in ("/docs", "/redoc"):
        docs = await client.get(path)
        assert docs.status_code == 200
        policy = docs.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy, policy
        assert "Cache-Control" not in docs.headers


async def test_hsts_over_https_only(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://auth.example.com"
    ) as https:
        secure = await https.get("/health/live")
    hsts = secure.headers["Strict-Transport-Security"]
    assert "max-age=" in hsts
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31_536_000


async def test_hsts_behind_a_tls_terminating_trusted_proxy(make_app: AppFactory) -> None:
    app = await make_app(trusted_proxies=["10.0.0.0/8"])
    forwarded = {"X-Forwarded-Proto": "https"}
    async with http_client(app, client=("10.0.0.7", 443)) as proxy:
        via_proxy = await proxy.get("/health/live", headers=forwarded)
    async with http_client(app, client=("203.0.113.9", 5555)) as stranger:
        spoofed = await stranger.get("/health/live", headers=forwarded)
    assert "Strict-Transport-Security" in via_proxy.headers
    assert "Strict-Transport-Security" not in spoofed.headers


async def preflight(http: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await http.options(
        "/auth/login",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


async def test_cors_allows_only_the_configured_origins(make_app: AppFactory) -> None:
    app = await make_app(cors_origins=[ALLOWED_ORIGIN])
    async with http_client(app) as http:
        allowed = await preflight(http, ALLOWED_ORIGIN)
        refused = await preflight(http, OTHER_ORIGIN)
        simple = await http.get("/health/live", headers={"Origin": ALLOWED_ORIGIN})
        foreign = await http.get("/health/live", headers={"Origin": OTHER_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert simple.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Access-Control-Allow-Origin" not in foreign.headers


async def test_cors_origins_read_from_a_comma_separated_setting(make_app: AppFactory) -> None:
    app = await make_app(cors_origins=f"{ALLOWED_ORIGIN}, https://second.example.com")
    async with http_client(app) as http:
        second = await preflight(http, "https://second.example.com")
    assert second.headers["Access-Control-Allow-Origin"] == "https://second.example.com"


async def test_without_cors_origins_no_origin_is_allowed(client: httpx.AsyncClient) -> None:
    response = await preflight(client, ALLOWED_ORIGIN)
    assert "Access-Control-Allow-Origin" not in response.headers
    simple = await client.get("/health/live", headers={"Origin": ALLOWED_ORIGIN})
    assert "Access-Control-Allow-Origin" not in simple.headers

"""Every error has the contract's shape: `{"detail", "code"}`, or FastAPI's 422 list."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import http_client


async def test_unknown_path_is_404_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "NOT_FOUND"}


async def test_wrong_method_is_405_method_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.put("/users/me")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_validation_errors_keep_fastapis_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/forgot-password", json={"email": 42})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert {"loc", "msg", "type"} <= set(error)
    assert error["loc"] == ["body", "email"]


async def test_a_server_fault_is_500_internal_error_without_a_trace(app: FastAPI) -> None:
    async def explode() -> None:
        raise RuntimeError("secret internals")

    app.router.add_api_route("/__explode", explode)
    try:
        async with http_client(app, raise_app_exceptions=False) as http:
            response = await http.get("/__explode")
    finally:
        app.router.routes.pop()
    assert response.status_code == 500
    assert response.json() == {"detail": "An internal error occurred.", "code": "INTERNAL_ERROR"}
    assert "secret internals" not in response.text


async def test_health_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).status_code == 200
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    schema = (await client.get("/openapi.json")).json()
    for path in (
        "/auth/register",
        "/auth/verify-email",
        "/auth/resend-verification",
        "/auth/login",
        "/auth/refresh",
        "/auth/forgot-password",
        "/auth/reset-password",
        "/auth/cancel-email-change",
        "/users/me",
        "/users/change-password",
        "/users/logout",
        "/health/live",
        "/health/ready",
    ):
        assert path in schema["paths"], path
    login_errors = schema["paths"]["/auth/login"]["post"]["responses"]
    assert {"401", "403", "429"} <= set(login_errors)


async def test_a_405_names_every_method_the_path_takes(client: httpx.AsyncClient) -> None:
    """RFC 9110 15.5.6: a 405 carries `Allow`, here with every route of the path."""
    response = await client.put("/users/me")
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, PATCH"
    assert (await client.put("/auth/login")).headers["Allow"] == "POST"

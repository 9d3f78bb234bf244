"""The OpenAPI schema lists, for every route of the contract, each error it can answer.

tests/test_errors.py checks that /docs, /openapi.json and the health routes answer and
that every contract path is listed; this checks the errors of each route.
"""

from __future__ import annotations

import httpx

# (method, path) -> {status: the codes the contract names for it (empty: FastAPI's 422 list)}
CONTRACT_ERRORS: dict[tuple[str, str], dict[str, set[str]]] = {
    ("post", "/auth/register"): {"422": set(), "429": {"RATE_LIMITED"}},
    ("get", "/auth/verify-email"): {"400": {"INVALID_TOKEN"}},
    ("post", "/auth/verify-email"): {"400": {"INVALID_TOKEN"}},
    ("get", "/auth/cancel-email-change"): {"400": {"INVALID_TOKEN"}},
    ("post", "/auth/cancel-email-change"): {"400": {"INVALID_TOKEN"}},
    ("post", "/auth/resend-verification"): {"422": set(), "429": {"RATE_LIMITED"}},
    ("post", "/auth/login"): {
        "401": {"INVALID_CREDENTIALS"},
        "403": {"EMAIL_NOT_VERIFIED", "ACCOUNT_DISABLED"},
        "429": {"RATE_LIMITED"},
    },
    ("post", "/auth/refresh"): {"401": {"INVALID_TOKEN"}},
    ("post", "/auth/forgot-password"): {"422": set(), "429": {"RATE_LIMITED"}},
    ("post", "/auth/reset-password"): {"400": {"INVALID_TOKEN"}, "422": set()},
    ("get", "/users/me"): {"401": {"NOT_AUTHENTICATED", "INVALID_TOKEN"}},
    ("patch", "/users/me"): {
        "400": {"INVALID_PASSWORD"},
        "401": {"NOT_AUTHENTICATED", "INVALID_TOKEN"},
        "409": {"EMAIL_TAKEN"},
        "422": set(),
    },
    ("post", "/users/change-password"): {
        "400": {"INVALID_PASSWORD"},
        "401": {"NOT_AUTHENTICATED", "INVALID_TOKEN"},
        "422": set(),
    },
    ("post", "/users/logout"): {"401": {"NOT_AUTHENTICATED", "INVALID_TOKEN"}},
    ("get", "/health/ready"): {"503": {"SCHEMA_OUTDATED", "SERVICE_UNAVAILABLE"}},
}
HEADERS_BY_STATUS = {"401": "WWW-Authenticate", "429": "Retry-After"}


async def test_every_contract_route_documents_its_errors(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for (method, path), errors in CONTRACT_ERRORS.items():
        responses = schema["paths"][path][method]["responses"]
        for status, codes in errors.items():
            assert status in responses, (method, path, status)
            description = responses[status]["description"]
            for code in codes:
                assert f"`{code}`" in description, (method, path, status, code)
            header = HEADERS_BY_STATUS.get(status)
            if header:
                assert header in responses[status].get("headers", {}), (method, path, header)

"""Hostile bodies get a 4xx, never a 500: size caps, length caps, broken JSON, the wrong
content type and Unicode that cannot be stored or displayed safely."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.support import PASSWORD, Account, logged_in, register, unique_email

UNAUTHENTICATED_JSON_ROUTES = [
    "/auth/register",
    "/auth/login",
    "/auth/resend-verification",
    "/auth/forgot-password",
    "/auth/reset-password",
    "/auth/verify-email",
    "/auth/cancel-email-change",
    "/auth/refresh",
]


@pytest.fixture
async def account(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await logged_in(client, mailbox)


def assert_client_error(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert "detail" in response.json()


def assert_invalid(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert field in {str(error["loc"][-1]) for error in response.json()["detail"]}


# -- size ------------------------------------------------------------------------------


async def test_headers_over_16_kib_are_431(client: httpx.AsyncClient) -> None:
    """uvicorn with httptools read 16 MiB of headers; here they go no further."""
    response = await client.get("/health/live", headers={"X-Padding": "h" * 17_000})
    assert response.status_code == 431
    assert response.json()["code"] == "HEADERS_TOO_LARGE"
    cookie = {"Cookie": "; ".join(f"c{index}={'v' * 100}" for index in range(40))}
    assert (await client.get("/health/live", headers=cookie)).status_code == 200


async def test_a_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    padding = "x" * 65_536
    response = await client.post(
        "/auth/register", json={"email": unique_email(), "password": PASSWORD, "pad": padding}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_streamed_body_without_length_is_cut_off_at_the_cap(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'@example.com"}'

    response = await client.post(
        "/auth/forgot-password", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_max_body_bytes_is_a_setting(make_app: AppFactory) -> None:
    app = await make_app(max_body_bytes=2048)
    async with http_client(app) as http:
        small = await http.post("/auth/forgot-password", json={"email": unique_email()})
        big = await http.post("/auth/forgot-password", json={"email": "a" * 3000})
    assert small.status_code == 202
    assert big.status_code == 413


# -- length ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/register", {"email": "a" * 310 + "@example.com", "password": PASSWORD}, "email"),
        ("/auth/register", {"email": "a@example.com", "password": "p" * 129}, "password"),
        (
            "/auth/register",
            {"email": "a@example.com", "password": PASSWORD, "full_name": "n" * 256},
            "full_name",
        ),
        ("/auth/login", {"email": "a@example.com", "password": "p" * 129}, "password"),
        ("/auth/verify-email", {"token": "t" * 2049}, "token"),
        ("/auth/reset-password", {"token": "t" * 2049, "new_password": PASSWORD}, "token"),
    ],
)
async def test_an_over_long_field_is_422(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(path, json=body)
    assert_invalid(response, field)
    assert "p" * 129 not in response.text


async def test_over_long_fields_of_signed_in_routes_are_422(
    client: httpx.AsyncClient, account: Account
) -> None:
    profile = await client.patch(
        "/users/me", json={"full_name": "n" * 256}, headers=account.headers
    )
    assert_invalid(profile, "full_name")
    change = await client.post(
        "/users/change-password",
        json={"current_password": account.password, "new_password": "p" * 129},
        headers=account.headers,
    )
    assert_invalid(change, "new_password")
    events = await client.get(
        "/users/me/security-events", params={"cursor": "c" * 201}, headers=account.headers
    )
    assert_invalid(events, "cursor")


# -- malformed JSON and content types ----------------------------------------------------


@pytest.mark.parametrize("path", UNAUTHENTICATED_JSON_ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        b'{"email": ',
        b"{'email': 'a@example.com'}",
        b"\xff\xfe\x00{",
        b"[]",
        b"null",
        b'"just a string"',
        b'{"email": {"$ne": null}, "password": ["x"]}',
        b"{" * 2000 + b"}" * 2000,
        b"[" * 20_000 + b"]" * 20_000,
        b'{"email": 1e999999}',
    ],
    ids=[
        "truncated",
        "single-quotes",
        "invalid-utf8",
        "array",
        "null",
        "string",
        "wrong-types",
        "deep-nesting",
        "deeper-than-the-recursion-limit",
        "huge-number",
    ],
)
async def test_malformed_json_is_a_client_error(
    client: httpx.AsyncClient, path: str, body: bytes
) -> None:
    response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert_client_error(response)


@pytest.mark.parametrize("path", UNAUTHENTICATED_JSON_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", None],
)
async def test_the_wrong_content_type_is_a_client_error(
    client: httpx.AsyncClient, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post(
        path, content=b'{"email": "a@example.com", "password": "secret-in-body"}', headers=headers
    )
    assert_client_error(response)
    assert "secret-in-body" not in response.text


async def test_login_names_the_media_types_it_takes(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login", content=b"email=a", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


# -- odd Unicode ---------------------------------------------------------------------------

LONE_SURROGATE = r"\ud800"
NUL = r"\u0000"
RTL_OVERRIDE = r"\u202e"


def raw_json(**fields: str) -> bytes:
    """JSON written by hand, so escapes like a lone surrogate reach the server as sent."""
    return ("{" + ", ".join(f'"{key}": "{value}"' for key, value in fields.items()) + "}").encode()


@pytest.mark.parametrize(
    ("path", "fields", "field"),
    [
        ("/auth/forgot-password", {"email": f"{LONE_SURROGATE}@example.com"}, "email"),
        ("/auth/forgot-password", {"email": f"a{NUL}b@example.com"}, "email"),
        ("/auth/forgot-password", {"email": f"{RTL_OVERRIDE}moc.elpmaxe@a"}, "email"),
        (
            "/auth/register",
            {"email": "a@example.com", "password": f"pass{LONE_SURROGATE}word!"},
            "",
        ),
        ("/auth/register", {"email": "a@example.com", "password": f"pass{NUL}word12"}, "password"),
        (
            "/auth/register",
            {"email": "a@example.com", "password": PASSWORD, "full_name": f"Ada{NUL}"},
            "full_name",
        ),
        (
            "/auth/register",
            {"email": "a@example.com", "password": PASSWORD, "full_name": LONE_SURROGATE},
            "full_name",
        ),
        (
            "/auth/register",
            {"email": "a@example.com", "password": PASSWORD, "full_name": f"{RTL_OVERRIDE}fdp.exe"},
            "full_name",
        ),
        ("/auth/login", {"email": "a@example.com", "password": LONE_SURROGATE}, ""),
        ("/auth/verify-email", {"token": LONE_SURROGATE}, "token"),
        ("/auth/reset-password", {"token": "t", "new_password": f"new{NUL}password"}, ""),
    ],
)
async def test_odd_unicode_is_refused_with_422(
    client: httpx.AsyncClient, path: str, fields: dict[str, str], field: str
) -> None:
    response = await client.post(
        path, content=raw_json(**fields), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    if field:
        assert_invalid(response, field)
    assert response.content.decode("utf-8")


async def test_odd_unicode_as_a_refresh_token_is_just_an_invalid_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/auth/refresh",
        content=raw_json(refresh_token=LONE_SURROGATE),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_TOKEN"


async def test_odd_unicode_as_the_refresh_token_of_a_logout_is_a_401(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        "/users/logout",
        content=raw_json(refresh_token=LONE_SURROGATE),
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_TOKEN"


async def test_odd_unicode_in_a_profile_update_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    for value in (NUL, LONE_SURROGATE, RTL_OVERRIDE, r"\u0007bell"):
        response = await client.patch(
            "/users/me",
            content=raw_json(full_name=f"Ada{value}"),
            headers={**account.headers, "Content-Type": "application/json"},
        )
        assert_invalid(response, "full_name")


async def test_ordinary_unicode_names_are_welcome(
    client: httpx.AsyncClient, account: Account
) -> None:
    """Joiners that scripts need (Persian's ZWNJ, emoji ZWJ) are not "odd"."""
    name = "Zoë Łukasz 李小龍 \u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627 👩\u200d💻"
    response = await client.patch("/users/me", json={"full_name": name}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == name


async def test_a_unicode_password_round_trips(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await logged_in(client, mailbox, password="пароль-密码-كلمة-🔑")
    assert account.access_token


async def test_control_characters_in_the_user_agent_are_not_stored(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await logged_in(client, mailbox)
    login = await client.post(
        "/auth/login",
        json={"email": account.email, "password": account.password},
        headers={"User-Agent": "evil\x00agent\x1b[31m"},
    )
    assert login.status_code == 200, login.text
    sessions = await client.get(
        "/users/me/sessions", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    [current] = [item for item in sessions.json() if item["current"]]
    assert current["user_agent"] == "evilagent[31m"


async def test_a_forged_cursor_is_400_not_500(client: httpx.AsyncClient, account: Account) -> None:
    forged = [
        "0001-01-01T00:00:00+14:00|" + str(uuid.uuid4()),
        "9999-12-31T23:59:59-14:00|" + str(uuid.uuid4()),
        "2024-01-01T00:00:00+00:00|not-a-uuid",
        "\x00|\x00",
    ]
    for raw in forged:
        cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        response = await client.get(
            "/users/me/security-events", params={"cursor": cursor}, headers=account.headers
        )
        assert_client_error(response)
    for cursor in ("é", "%00", "\x00"):
        response = await client.get(
            "/users/me/security-events", params={"cursor": cursor}, headers=account.headers
        )
        assert_client_error(response)


async def test_unknown_fields_are_refused_so_nothing_is_smuggled_in(
    client: httpx.AsyncClient,
) -> None:
    response = await register(client, unique_email(), is_verified=True)
    assert_invalid(response, "is_verified")

"""Mounted into a host that does what hosts do (its own handlers for every error kind,
its own middleware, WebSockets, a sub-application, a second mount), the package's routes
still answer as the README's "Embedding" promises, and the host's stay the host's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2PasswordBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import Message

from fastapi_auth import mount
from tests.conftest import http_client, make_settings
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import TestDatabase
from tests.support import PASSWORD, unique_email

PREFIX = "/id"
SECRET = "a password never echoed"
HOSTS_SCHEME = OAuth2PasswordBearer(tokenUrl="/token")


def hostile_host() -> FastAPI:
    """A host with a handler of its own for every kind of error the package answers, a
    `BaseHTTPMiddleware`, GZip and a WebSocket route."""
    host = FastAPI()

    @host.exception_handler(RequestValidationError)
    async def echo_everything(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"host_422": repr(exc.errors()), "body": repr(exc.body)}, 422)

    @host.exception_handler(StarletteHTTPException)
    async def hosts_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"host_error": exc.status_code}, exc.status_code)

    @host.exception_handler(Exception)
    async def hosts_crash(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"host_crash": True}, 500)

    async def stamp(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Host"] = "yes"
        return response

    host.add_middleware(BaseHTTPMiddleware, dispatch=stamp)
    host.add_middleware(GZipMiddleware, minimum_size=10)

    @host.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    @host.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return host


@pytest.fixture
async def hostile(
    database: TestDatabase, smtp: SmtpCapture
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    host = hostile_host()
    mount(host, make_settings(database, smtp), prefix=PREFIX)
    async with LifespanManager(host), http_client(host) as client:
        yield host, client


def assert_ours(answer: httpx.Response, status: int, code: str | None = None) -> None:
    """The package's answer: its shape, its headers (the host's middleware still ran)."""
    assert answer.status_code == status, answer.text
    assert "host_" not in answer.text, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Host"] == "yes"
    if code is not None:
        assert answer.json()["code"] == code


async def test_a_422_on_its_routes_is_its_own_and_never_echoes_the_password(
    hostile: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _host, client = hostile
    answer = await client.post(
        f"{PREFIX}/auth/login", json={"email": "not-an-email", "password": SECRET}
    )
    assert_ours(answer, 422)
    assert SECRET not in answer.text


async def test_a_chunked_body_over_the_cap_is_refused_on_its_routes(
    hostile: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _host, client = hostile

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 8192

    answer = await client.post(
        f"{PREFIX}/auth/register",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in answer.request.headers
    assert_ours(answer, 413, "PAYLOAD_TOO_LARGE")


async def test_its_errors_are_its_own_under_a_host_with_handlers_for_everything(
    hostile: tuple[FastAPI, httpx.AsyncClient], mailbox: Mailbox
) -> None:
    _host, client = hostile
    assert_ours(await client.get(f"{PREFIX}/users/me"), 401, "NOT_AUTHENTICATED")
    wrong = await client.post(
        f"{PREFIX}/auth/login", json={"email": unique_email(), "password": "nope-nope-nope"}
    )
    assert_ours(wrong, 401, "INVALID_CREDENTIALS")
    not_json = await client.post(
        f"{PREFIX}/auth/login", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert_ours(not_json, 422)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/auth/login", "POST"),
        ("OPTIONS", "/auth/login", "POST"),
        ("HEAD", "/health/live", "GET"),
    ],
)
async def test_a_wrong_method_on_its_routes_is_its_own_405(
    hostile: tuple[FastAPI, httpx.AsyncClient], method: str, path: str, allowed: str
) -> None:
    """The route matched by path only: its 405 is the package's, `{"detail", "code"}`
    with `Allow` and the package's headers, as standalone, not the host's."""
    _host, client = hostile
    answer = await client.request(method, PREFIX + path)
    assert_ours(answer, 405)
    assert answer.headers["Allow"] == allowed
    if method != "HEAD":
        assert answer.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_its_answers_keep_their_headers_through_the_hosts_gzip(
    hostile: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _host, client = hostile
    answer = await client.get(f"{PREFIX}/users/me", headers={"Accept-Encoding": "gzip"})
    assert answer.headers.get("Content-Encoding") == "gzip"
    assert_ours(answer, 401, "NOT_AUTHENTICATED")


async def test_the_hosts_websocket_is_untouched(
    hostile: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    host, _client = hostile
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "ping"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    await host(scope, receive, send)
    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert sent[1]["text"] == "ping"


async def test_the_hosts_own_routes_keep_the_hosts_handlers(
    hostile: tuple[FastAPI, httpx.AsyncClient], mailbox: Mailbox
) -> None:
    """After a request to the package's routes, the host's routes still answer with the
    host's handlers."""
    _host, client = hostile
    await client.post(f"{PREFIX}/auth/login", json={"email": "x", "password": SECRET})
    missing = await client.get(f"{PREFIX}/no-such-route")
    assert missing.json() == {"host_error": 404}
    assert "Cache-Control" not in missing.headers
    hello = await client.get("/hello")
    assert hello.json() == {"hello": "world"}
    assert "Cache-Control" not in hello.headers


async def test_mounted_twice_each_mount_keeps_its_own_prefix(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    """Mounting the package twice into one app (two prefixes) either works, each mount
    with its own links, or is refused at `mount`; it must not silently send the first
    prefix's users links of the second."""
    host = FastAPI()
    settings = make_settings(database, smtp)
    mount(host, settings, prefix="/a")
    try:
        mount(host, settings, prefix="/b")
    except RuntimeError:
        return
    email = unique_email()
    async with LifespanManager(host), http_client(host) as client:
        registered = await client.post(
            "/a/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202
        message = await mailbox.last(email, "Verify")
    assert re.match(r"http://localhost:8000/a/auth/verify-email\?token=", message.link), (
        message.link
    )


async def test_a_sub_application_gets_its_links_and_forms_under_its_mount_path(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    """`host.mount("/api", sub)` with the package mounted into `sub`: the page's form and
    files point under `/api`, where they are served."""
    host = FastAPI()
    sub = FastAPI()
    mount(sub, make_settings(database, smtp))
    host.mount("/api", sub)
    async with LifespanManager(sub), http_client(host) as client:
        email = unique_email()
        registered = await client.post(
            "/api/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202
        message = await mailbox.last(email, "Verify")
        page = await client.get("/api/auth/verify-email", params={"token": message.token})
        assert page.status_code == 200
        assert 'action="/api/auth/verify-email"' in page.text, page.text


async def test_the_docs_token_url_follows_the_prefix(
    database: TestDatabase, smtp: SmtpCapture
) -> None:
    """The host's `/docs` Authorize button posts to the scheme's `tokenUrl`: relative
    `auth/login` resolves against `/docs` to `/auth/login`, which is not under `/id`."""
    host = FastAPI()
    mount(host, make_settings(database, smtp), prefix=PREFIX)
    async with http_client(host) as client:
        schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    [ours] = [s for s in schemes.values() if s.get("type") == "oauth2"]
    token_url = ours["flows"]["password"]["tokenUrl"]
    assert httpx.URL("http://testserver/docs").join(token_url).path == f"{PREFIX}/auth/login"


async def test_the_hosts_own_oauth2_scheme_is_not_overwritten(
    database: TestDatabase, smtp: SmtpCapture
) -> None:
    """A host with an `OAuth2PasswordBearer` of its own (default name: the class's) keeps
    it in the docs beside the package's."""
    host = FastAPI()

    @host.get("/legacy")
    async def legacy(token: Annotated[str, Depends(HOSTS_SCHEME)]) -> dict[str, str]:
        return {"token": token}

    mount(host, make_settings(database, smtp), prefix=PREFIX)
    async with http_client(host) as client:
        schema = (await client.get("/openapi.json")).json()
    token_urls = sorted(
        scheme["flows"]["password"]["tokenUrl"]
        for scheme in schema["components"]["securitySchemes"].values()
    )
    assert "/token" in token_urls
    assert len(token_urls) == 2, token_urls

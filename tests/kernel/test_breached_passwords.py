"""New passwords are checked against the bundled common list always, and against Have I
Been Pwned's range API when HIBP_ENABLED (here a local fake of it, never the internet)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from fastapi_auth.kernel.password_policy import common_passwords
from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox, free_port
from tests.support import PASSWORD, login, register, register_verified, unique_email

BREACHED = "horse staple correct battery"
SAFE = "a passphrase nobody has leaked"
PADDING_ONLY = "padded but never breached"


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


@dataclass
class FakePwnedPasswords:
    """Answers GET /range/{prefix} like the real API: suffix:count lines, padded with
    count-0 entries when asked to."""

    breached: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    answer: bool = True
    port: int = 0
    server: asyncio.Server | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.released.set()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/range/"

    def body_for(self, prefix: str) -> str:
        lines = [
            f"{digest[5:]}:{count}"
            for digest, count in self.breached.items()
            if digest.startswith(prefix)
        ]
        lines += [f"{index:035X}:0" for index in range(5)]
        if prefix == sha1(PADDING_ONLY)[:5]:
            lines.append(f"{sha1(PADDING_ONLY)[5:]}:0")
        return "\r\n".join(lines)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        _method, path, _ = head[0].split(" ")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        self.requests.append((path, headers))
        if not self.answer:
            await self.released.wait()
            writer.close()
            return
        body = self.body_for(path.rsplit("/", 1)[-1]).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def pwned() -> AsyncIterator[FakePwnedPasswords]:
    fake = FakePwnedPasswords(breached={sha1(BREACHED): 42})
    await fake.start()
    yield fake
    await fake.stop()


def assert_weak(response: httpx.Response, field_name: str) -> None:
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field_name]
    assert "breach" in error["msg"] or "common" in error["msg"]


@pytest.mark.parametrize("password", ["sunshine", "Password1", "TRUSTNO1", "qwertyuiop"])
async def test_the_bundled_list_refuses_common_passwords(
    client: httpx.AsyncClient, password: str
) -> None:
    assert_weak(await register(client, unique_email(), password), "password")


async def test_the_bundled_list_is_large() -> None:
    assert len(common_passwords()) >= 10_000
    assert "baseball" in common_passwords()


async def test_a_breached_password_is_refused_at_registration(
    make_app: AppFactory, pwned: FakePwnedPasswords
) -> None:
    app = await make_app(hibp_enabled=True, hibp_url=pwned.url)
    async with http_client(app) as http:
        assert_weak(await register(http, unique_email(), BREACHED), "password")
        assert (await register(http, unique_email(), SAFE)).status_code == 202


async def test_only_a_padded_prefix_leaves_the_process(
    make_app: AppFactory, pwned: FakePwnedPasswords
) -> None:
    app = await make_app(hibp_enabled=True, hibp_url=pwned.url)
    async with http_client(app) as http:
        await register(http, unique_email(), BREACHED)
    [(path, headers)] = pwned.requests
    assert path == f"/range/{sha1(BREACHED)[:5]}"
    assert headers["add-padding"] == "true"
    assert sha1(BREACHED)[5:] not in path


async def test_a_padding_entry_with_count_zero_is_not_a_breach(
    make_app: AppFactory, pwned: FakePwnedPasswords
) -> None:
    app = await make_app(hibp_enabled=True, hibp_url=pwned.url)
    async with http_client(app) as http:
        assert (await register(http, unique_email(), PADDING_ONLY)).status_code == 202


async def test_reset_and_change_password_are_checked_too(
    make_app: AppFactory, pwned: FakePwnedPasswords, mailbox: Mailbox
) -> None:
    app = await make_app(hibp_enabled=True, hibp_url=pwned.url)
    async with http_client(app) as http:
        account = await login(http, await register_verified(http, mailbox))
        change = await http.post(
            "/users/change-password",
            json={"current_password": PASSWORD, "new_password": BREACHED},
            headers=account.headers,
        )
        assert_weak(change, "new_password")
        await http.post("/auth/forgot-password", json={"email": account.email})
        link = await mailbox.last(account.email, "Reset")
        reset = await http.post(
            "/auth/reset-password", json={"token": link.token, "new_password": BREACHED}
        )
        assert_weak(reset, "new_password")
        reset = await http.post(
            "/auth/reset-password", json={"token": link.token, "new_password": SAFE}
        )
        assert reset.status_code == 200, reset.text


async def test_hibp_is_off_by_default(make_app: AppFactory, pwned: FakePwnedPasswords) -> None:
    app = await make_app(hibp_url=pwned.url)
    async with http_client(app) as http:
        assert (await register(http, unique_email(), BREACHED)).status_code == 202
    assert pwned.requests == []


async def test_an_unreachable_service_fails_open_and_says_so(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_app(hibp_enabled=True, hibp_url=f"http://127.0.0.1:{free_port()}/range/")
    async with http_client(app) as http:
        with caplog.at_level(logging.WARNING, logger="fastapi_auth.breached_passwords"):
            response = await register(http, unique_email(), BREACHED)
    assert response.status_code == 202
    assert "Pwned Passwords" in caplog.text


async def test_a_silent_service_times_out_and_fails_open(
    make_app: AppFactory, pwned: FakePwnedPasswords, caplog: pytest.LogCaptureFixture
) -> None:
    pwned.answer = False
    app = await make_app(hibp_enabled=True, hibp_url=pwned.url, hibp_timeout_seconds=0.2)
    async with http_client(app) as http:
        with caplog.at_level(logging.WARNING, logger="fastapi_auth.breached_passwords"):
            response = await register(http, unique_email(), BREACHED)
    assert response.status_code == 202
    assert "Timeout" in caplog.text

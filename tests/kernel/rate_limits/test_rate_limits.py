"""Per-IP limits on every unauthenticated endpoint that works or mails, and per-address
limits on the emails a stranger can make the service send."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import AppFactory, http_client
from tests.kernel.rate_limits.conftest import LimitedAppFactory
from tests.mailbox import Mailbox, free_port
from tests.support import register, register_verified, unique_email

ATTACKER = ("198.51.100.7", 40000)
BYSTANDER = ("198.51.100.8", 40000)

LIMITED_ENDPOINTS = [
    pytest.param("POST", "/auth/login", "rate_limit_login", id="login"),
    pytest.param("POST", "/auth/register", "rate_limit_register", id="register"),
    pytest.param("POST", "/auth/resend-verification", "rate_limit_email", id="resend"),
    pytest.param("POST", "/auth/forgot-password", "rate_limit_email", id="forgot"),
    pytest.param("POST", "/auth/reset-password", "rate_limit_token", id="reset"),
    pytest.param("POST", "/auth/verify-email", "rate_limit_token", id="verify"),
    pytest.param("GET", "/auth/verify-email?token=x", "rate_limit_token", id="verify-link"),
    pytest.param("POST", "/auth/refresh", "rate_limit_token", id="refresh"),
]


def assert_rate_limited(response: httpx.Response, window_seconds: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(response.headers["Retry-After"]) <= window_seconds


async def failed_login(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post("/auth/login", json={"email": email, "password": "not the password"})


@pytest.mark.parametrize(("method", "path", "setting"), LIMITED_ENDPOINTS)
async def test_every_unauthenticated_endpoint_is_limited_per_client_ip(
    limited_app: LimitedAppFactory, method: str, path: str, setting: str
) -> None:
    """Junk bodies count too: the limit is checked before the body is even read."""
    app = await limited_app(**{setting: "2/minute"})
    async with http_client(app, client=ATTACKER) as attacker:
        answers = [(await attacker.request(method, path, json={})).status_code for _ in range(2)]
        assert 429 not in answers
        assert_rate_limited(await attacker.request(method, path, json={}), 60)
    async with http_client(app, client=BYSTANDER) as bystander:
        assert (await bystander.request(method, path, json={})).status_code != 429


async def test_login_limit_answers_429_with_retry_after(limited_app: LimitedAppFactory) -> None:
    app = await limited_app(rate_limit_login="3/minute", lockout_threshold=100)
    email = unique_email()
    async with http_client(app, client=ATTACKER) as attacker:
        for _ in range(3):
            assert (await failed_login(attacker, email)).status_code == 401
        assert_rate_limited(await failed_login(attacker, email), 60)


async def test_instances_share_one_count_through_redis_and_not_in_process(
    limited_app: LimitedAppFactory, limiter_store: str
) -> None:
    shared: dict[str, Any] = {
        "rate_limit_login": "2/minute",
        "rate_limit_key_prefix": f"test-shared-{secrets.token_hex(6)}",
        "lockout_threshold": 100,
    }
    first, second = await limited_app(**shared), await limited_app(**shared)
    email = unique_email()
    async with (
        http_client(first, client=ATTACKER) as via_first,
        http_client(second, client=ATTACKER) as via_second,
    ):
        assert (await failed_login(via_first, email)).status_code == 401
        assert (await failed_login(via_second, email)).status_code == 401
        third = await failed_login(via_first, email)
    if limiter_store == "redis":
        assert_rate_limited(third, 60)
    else:
        assert third.status_code == 401


async def test_rate_limit_enabled_false_turns_limits_off(limited_app: LimitedAppFactory) -> None:
    app = await limited_app(
        rate_limit_enabled=False, rate_limit_login="1/minute", lockout_threshold=1
    )
    email = unique_email()
    async with http_client(app, client=ATTACKER) as attacker:
        answers = {(await failed_login(attacker, email)).status_code for _ in range(4)}
    assert answers == {401}


async def test_forgot_password_cannot_flood_a_mailbox(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Over the per-address limit the answer is 429 (not a silent drop), from any IP."""
    account = await register_verified(client, mailbox)
    app = await limited_app(rate_limit_emails_per_address="2/hour")
    body = {"email": account.email}
    async with http_client(app, client=ATTACKER) as attacker:
        for _ in range(2):
            assert (await attacker.post("/auth/forgot-password", json=body)).status_code == 202
        assert_rate_limited(await attacker.post("/auth/forgot-password", json=body), 3600)
    async with http_client(app, client=BYSTANDER) as bystander:
        assert_rate_limited(await bystander.post("/auth/forgot-password", json=body), 3600)
        await mailbox.wait_for(account.email, "password", count=2)
        sentinel = await register_verified(bystander, mailbox)
    assert sentinel.email
    assert len([m for m in mailbox.to(account.email) if "password" in m.subject.lower()]) == 2


async def test_resend_verification_cannot_flood_a_mailbox(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email()
    assert (await register(client, email)).status_code == 202
    await mailbox.wait_for(email, "Verify", count=1)
    app = await limited_app(rate_limit_emails_per_address="2/hour")
    async with http_client(app, client=ATTACKER) as attacker:
        for _ in range(2):
            response = await attacker.post("/auth/resend-verification", json={"email": email})
            assert response.status_code == 202
        response = await attacker.post("/auth/resend-verification", json={"email": email})
        assert_rate_limited(response, 3600)
    await mailbox.wait_for(email, "Finish creating your account", count=2)
    assert len(mailbox.to(email)) == 3


async def test_the_address_limit_ignores_case(
    limited_app: LimitedAppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    app = await limited_app(rate_limit_emails_per_address="1/hour")
    local, domain = account.email.split("@")
    async with http_client(app, client=ATTACKER) as attacker:
        first = await attacker.post("/auth/forgot-password", json={"email": account.email})
        assert first.status_code == 202
        shouted = {"email": f"{local.upper()}@{domain.upper()}"}
        assert_rate_limited(await attacker.post("/auth/forgot-password", json=shouted), 3600)


async def test_an_unreachable_redis_fails_open_and_says_so(
    make_app: AppFactory,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An outage of the limiter must not become an outage of login."""
    account = await register_verified(client, mailbox)
    app = await make_app(
        rate_limit_enabled=True,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rate_limit_login="1/minute",
    )
    credentials = {"email": account.email, "password": account.password}
    with caplog.at_level(logging.ERROR, logger="fastapi_auth.ratelimit"):
        async with http_client(app, client=ATTACKER) as http:
            answers = [
                (await http.post("/auth/login", json=credentials)).status_code for _ in range(2)
            ]
    assert answers == [200, 200]
    assert "letting requests through" in caplog.text


@dataclass
class SilentServer:
    """Accepts connections and reads what it is sent, but never answers: a hung Redis."""

    connections: int = 0
    received: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while chunk := await reader.read(65536):
            self.received += len(chunk)
        writer.close()


async def test_a_hanging_redis_is_given_up_on_at_once_and_left_alone(
    make_app: AppFactory,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After one timed-out call per store, requests do not wait for it again: nothing more
    is sent to it, and the log says so once per store, not once a request."""
    account = await register_verified(client, mailbox)
    silent = SilentServer()
    server = await asyncio.start_server(silent.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        app = await make_app(rate_limit_enabled=True, redis_url=f"redis://127.0.0.1:{port}/0")
        credentials = {"email": account.email, "password": account.password}
        with caplog.at_level(logging.WARNING, logger="fastapi_auth.ratelimit"):
            async with http_client(app, client=ATTACKER) as http, asyncio.timeout(30):
                first = await http.post("/auth/login", json=credentials)
                assert first.status_code == 200
                sent_after_first = silent.received
                later = [
                    (await http.post("/auth/login", json=credentials)).status_code for _ in range(5)
                ]
        assert later == [200] * 5
        assert sent_after_first > 0
        assert silent.received == sent_after_first, "later requests still waited for Redis"
        failures = [r for r in caplog.records if "letting requests through" in r.getMessage()]
        assert len(failures) == 2, [r.getMessage() for r in failures]
    finally:
        server.close()

"""The client IP is the socket peer; X-Forwarded-For counts only from TRUSTED_PROXIES."""

from __future__ import annotations

import httpx

from tests.conftest import AppFactory, http_client
from tests.kernel.rate_limits.conftest import LimitedAppFactory
from tests.mailbox import Mailbox
from tests.support import register_verified, unique_email

PROXY = ("10.1.2.3", 443)
STRANGER = ("203.0.113.50", 60000)
TRUSTED = ["10.0.0.0/8"]


async def failed_login(http: httpx.AsyncClient, forwarded_for: str) -> httpx.Response:
    return await http.post(
        "/auth/login",
        json={"email": unique_email(), "password": "not the password"},
        headers={"X-Forwarded-For": forwarded_for},
    )


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    limited_app: LimitedAppFactory,
) -> None:
    app = await limited_app(rate_limit_login="2/minute", trusted_proxies=TRUSTED)
    async with http_client(app, client=STRANGER) as stranger:
        assert (await failed_login(stranger, "192.0.2.1")).status_code == 401
        assert (await failed_login(stranger, "192.0.2.2")).status_code == 401
        third = await failed_login(stranger, "192.0.2.3")
    assert third.status_code == 429


async def test_a_trusted_proxy_names_the_client_and_cannot_be_fooled_by_it(
    limited_app: LimitedAppFactory,
) -> None:
    """Read from the right: an address the client itself prepended is not believed."""
    app = await limited_app(rate_limit_login="2/minute", trusted_proxies=TRUSTED)
    async with http_client(app, client=PROXY) as proxy:
        assert (await failed_login(proxy, "198.51.100.1")).status_code == 401
        assert (await failed_login(proxy, "6.6.6.6, 198.51.100.1, 10.9.9.9")).status_code == 401
        assert (await failed_login(proxy, "198.51.100.1")).status_code == 429
        assert (await failed_login(proxy, "198.51.100.2")).status_code == 401


async def test_a_garbled_forwarded_for_falls_back_to_the_peer(
    limited_app: LimitedAppFactory,
) -> None:
    app = await limited_app(rate_limit_login="1/minute", trusted_proxies=TRUSTED)
    async with http_client(app, client=PROXY) as proxy:
        assert (await failed_login(proxy, "not-an-ip")).status_code == 401
        assert (await failed_login(proxy, "<script>")).status_code == 429


async def test_sessions_record_the_address_the_rules_choose(
    make_app: AppFactory, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register_verified(client, mailbox)
    app = await make_app(trusted_proxies=TRUSTED)
    credentials = {"email": account.email, "password": account.password}
    addresses = {}
    for peer, forwarded in ((PROXY, "198.51.100.9"), (STRANGER, "198.51.100.10")):
        async with http_client(app, client=peer) as http:
            login = await http.post(
                "/auth/login", json=credentials, headers={"X-Forwarded-For": forwarded}
            )
            token = login.json()["access_token"]
            sessions = await http.get(
                "/users/me/sessions", headers={"Authorization": f"Bearer {token}"}
            )
            [current] = [item for item in sessions.json() if item["current"]]
            addresses[peer[0]] = current["ip_address"]
    assert addresses == {PROXY[0]: "198.51.100.9", STRANGER[0]: STRANGER[0]}

"""`require_mfa` for a host's own routes: a token from a password alone is refused with
403 `MFA_REQUIRED_FOR_ROUTE`; one whose login took a second factor passes."""

from __future__ import annotations

import pyotp
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fastapi_auth import MfaPrincipal, mount
from tests.conftest import http_client, make_settings
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import TestDatabase
from tests.support import PASSWORD, bearer, logged_in


async def test_a_host_route_demands_a_second_factor(
    database: TestDatabase, smtp: SmtpCapture, mailbox: Mailbox
) -> None:
    host = FastAPI()

    @host.get("/vault")
    async def vault(principal: MfaPrincipal) -> dict[str, list[str]]:
        return {"amr": list(principal.amr)}

    mount(host, make_settings(database, smtp))
    async with LifespanManager(host), http_client(host) as client:
        account = await logged_in(client, mailbox)
        refused = await client.get("/vault", headers=account.headers)
        setup = await client.post(
            "/users/me/mfa/totp/setup", json={"password": PASSWORD}, headers=account.headers
        )
        totp = pyotp.TOTP(setup.json()["secret"])
        confirmed = await client.post(
            "/users/me/mfa/totp/confirm", json={"code": totp.now()}, headers=account.headers
        )
        assert confirmed.status_code == 200, confirmed.text
        asked = await client.post(
            "/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        codes = confirmed.json()["recovery_codes"]
        second = await client.post(
            "/auth/login/mfa", json={"mfa_token": asked.json()["mfa_token"], "code": codes[0]}
        )
        allowed = await client.get("/vault", headers=bearer(second.json()["access_token"]))

    assert refused.status_code == 403
    assert refused.json()["code"] == "MFA_REQUIRED_FOR_ROUTE"
    assert asked.status_code == 403
    assert asked.json()["code"] == "MFA_REQUIRED"
    assert allowed.status_code == 200
    assert allowed.json() == {"amr": ["pwd", "rec"]}

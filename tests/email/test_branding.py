"""The bundled emails carry the name, logo and colour of the branding settings."""

from __future__ import annotations

from tests.conftest import AppFactory, http_client
from tests.mailbox import Mailbox
from tests.support import register, unique_email

BRANDING = {
    "app_name": "Acme <Accounts>",
    "app_logo_url": "https://cdn.acme.example/logo.png",
    "app_primary_color": "#AA3300",
    "sign_in_url": "https://app.acme.example/login",
}


async def test_the_bundled_emails_carry_the_branding(
    make_app: AppFactory, mailbox: Mailbox
) -> None:
    app = await make_app(**BRANDING)
    email = unique_email()
    async with http_client(app) as http:
        assert (await register(http, email)).status_code == 202
    verify = await mailbox.last(email, "Verify")
    assert '<img src="https://cdn.acme.example/logo.png" alt="Acme &lt;Accounts&gt;"' in verify.html
    assert "border-bottom: 3px solid #aa3300" in verify.html
    assert 'style="color: #aa3300; font-weight: 600;">Verify my email address</a>' in verify.html
    assert verify.text.rstrip().endswith("— Acme <Accounts>")

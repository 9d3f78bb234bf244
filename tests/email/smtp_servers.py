"""SMTP servers with a character: down, refusing, slow, demanding a login or TLS.

Each is a real aiosmtpd server on its own port, so stopping one never touches the
session-wide capture the other tests deliver to.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.mailbox import Mailbox, SmtpCapture

SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp password"


class SmtpServer(SmtpCapture):
    """An SmtpCapture that takes aiosmtpd's options (TLS, AUTH) and any Mailbox handler."""

    def __init__(self, mailbox: Mailbox | None = None, **options: Any) -> None:
        super().__init__()
        self.mailbox = mailbox or Mailbox()
        self.options = options

    def start(self) -> None:
        self._controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, **self.options
        )
        self._controller.start()


@contextmanager
def running(server: SmtpServer) -> Iterator[SmtpServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RefusingMailbox(Mailbox):
    """Answers every RCPT with `reply` the first `times` times (always when None)."""

    reply: str = "451 4.3.0 Try again later"
    times: int | None = None
    refused: int = 0

    async def handle_RCPT(  # noqa: N802
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if self.times is None or self.refused < self.times:
            self.refused += 1
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def relent(self) -> None:
        """From now on, accept."""
        self.times = self.refused


@dataclass
class SlowMailbox(Mailbox):
    """Takes a while to accept each message, so a test can act while a send is in flight."""

    delay_seconds: float = 0.5
    started: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.started += 1
        await asyncio.sleep(self.delay_seconds)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Authenticator:
    """Accepts SMTP_USER/SMTP_PASSWORD and remembers which mechanism each login used."""

    mechanisms: list[str] = field(default_factory=list)

    def __call__(
        self, _server: Any, _session: Any, _envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        valid = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=valid, handled=False)


@dataclass(frozen=True)
class TestCertificates:
    """A private CA (its PEM in `ca_file`, as `EMAIL_CA_FILE` takes it) and a server
    certificate it signed for 127.0.0.1."""

    __test__ = False

    ca_file: Path
    server: trustme.LeafCert

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        return context


def make_certificates(directory: Path) -> TestCertificates:
    authority = trustme.CA()
    ca_file = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return TestCertificates(ca_file=ca_file, server=authority.issue_cert("127.0.0.1"))

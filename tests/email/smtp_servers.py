"""SMTP servers with a character: down, refusing, slow, demanding a login or TLS.

Each is a real aiosmtpd server on its own port, so stopping one never touches the
session-wide capture the other tests deliver to.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """A private CA and a certificate it signed for 127.0.0.1."""

    __test__ = False

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(directory: Path) -> TestCertificates:
    """With the openssl command line: no certificate library is a dependency."""
    ca_key, ca_file = directory / "ca.key", directory / "ca.pem"
    key_file, csr_file = directory / "server.key", directory / "server.csr"
    cert_file, extensions = directory / "server.pem", directory / "server.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    make_ca = ["req", "-x509", *ec, "-days", "2", "-keyout", ca_key, "-out", ca_file]
    make_request = ["req", *ec, "-keyout", key_file, "-out", csr_file, "-subj", "/CN=127.0.0.1"]
    sign = ["x509", "-req", "-in", csr_file, "-CA", ca_file, "-CAkey", ca_key, "-days", "2"]
    for command in (
        [*make_ca, "-subj", "/CN=fastapi-auth test CA"],
        make_request,
        [*sign, "-set_serial", "2", "-extfile", extensions, "-out", cert_file],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    return TestCertificates(ca_file=ca_file, cert_file=cert_file, key_file=key_file)

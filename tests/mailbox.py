"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests to read."""

from __future__ import annotations

import asyncio
import email
import re
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from tests import log_scan

LINK = re.compile(r"https?://\S+?token=[A-Za-z0-9_.\-]+")


@dataclass
class ReceivedEmail:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())

    @property
    def link(self) -> str:
        found = LINK.search(self.text)
        assert found, f"no link in {self.text!r}"
        return found.group(0)

    @property
    def token(self) -> str:
        return self.link.split("token=", 1)[1]


@dataclass
class Mailbox:
    received: list[ReceivedEmail] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        received = ReceivedEmail(list(envelope.rcpt_tos), message)
        self.received.append(received)
        for link in LINK.findall(received.text):
            log_scan.remember(link.split("token=", 1)[1])
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[ReceivedEmail]:
        return [
            item for item in self.received if address.lower() in map(str.lower, item.recipients)
        ]

    async def wait_for(
        self, address: str, subject: str = "", count: int = 1, within_seconds: float = 10.0
    ) -> list[ReceivedEmail]:
        """The emails to `address` whose subject contains `subject`, once `count` arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while True:
            found = [item for item in self.to(address) if subject in item.subject]
            if len(found) >= count or loop.time() > deadline:
                break
            await asyncio.sleep(0.02)
        assert len(found) >= count, f"{len(found)} of {count} emails to {address} ({subject!r})"
        return found

    async def last(self, address: str, subject: str = "") -> ReceivedEmail:
        return (await self.wait_for(address, subject))[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpCapture:
    """Starts and stops like a real mail server, so delivery failures can be staged."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

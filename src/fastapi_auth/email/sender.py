"""Where a composed email goes: an SMTP server, or the log on a laptop.

`EmailSender` is the seam: anything with `async send(message)` can replace
these two (an HTTP mail API, a queue). Raise `PermanentDeliveryError` for a
failure that retrying cannot fix; any other exception is retried.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from fastapi_auth.kernel.settings import Settings

logger = logging.getLogger("fastapi_auth.email")
KEEP_LINKS = "fastapi_auth_keep_links"
"""The one log line meant to show links (`fastapi_auth.kernel.log_redaction` lets it through)."""

SMTP_PERMANENT_FAILURE = 500


class PermanentDeliveryError(Exception):
    """The server refused the message for good (a 5xx reply): retrying will not help."""


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class LogEmailSender:
    """Writes each email, links included, to the log so the flows work without SMTP."""

    async def send(self, message: EmailMessage) -> None:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        logger.warning(
            "email to %s: %s\n%s",
            message["To"],
            message["Subject"],
            text.rstrip(),
            extra={KEEP_LINKS: True},
        )


class SmtpEmailSender:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        settings = self._settings
        assert settings.email_host is not None
        password = settings.email_password.get_secret_value() if settings.email_password else None
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.email_host,
                port=settings.email_port,
                username=settings.email_user,
                password=password,
                use_tls=settings.email_ssl,
                start_tls=settings.smtp_starttls,
                cert_bundle=settings.email_ca_file,
                timeout=settings.email_timeout_seconds,
            )
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= SMTP_PERMANENT_FAILURE:
                raise PermanentDeliveryError(f"{error.code} {error.message}") from error
            raise
        except aiosmtplib.SMTPNotSupported as error:
            if "SMTPUTF8" in str(error):
                # The address needs it and this server has none: no retry can change that.
                raise PermanentDeliveryError(str(error)) from error
            raise
        except aiosmtplib.SMTPRecipientsRefused as error:
            # A refused RCPT is not an SMTPResponseException: it carries one per recipient.
            refusals = error.recipients
            if refusals and all(item.code >= SMTP_PERMANENT_FAILURE for item in refusals):
                reasons = "; ".join(f"{item.code} {item.message}" for item in refusals)
                raise PermanentDeliveryError(reasons) from error
            raise


def build_sender(settings: Settings) -> EmailSender:
    if settings.email_host:
        return SmtpEmailSender(settings)
    return LogEmailSender()

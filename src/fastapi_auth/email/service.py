"""Composing emails from templates and queueing them in the caller's transaction.

Nothing here talks to SMTP: an email becomes a row of the outbox, committed
or rolled back with the change that caused it, and the dispatcher delivers it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.kernel.models import OutboxEmail, User
from fastapi_auth.kernel.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"

Template = Literal[
    "verify_email",
    "activate_account",
    "reset_password",
    "password_changed",
    "confirm_email_change",
    "email_change_notice",
    "email_change_cancelled",
    "register_attempt",
    "account_deleted",
    "second_factor_changed",
]


@dataclass(frozen=True)
class ComposedEmail:
    recipient: str
    subject: str
    text: str
    html: str


class EmailComposer:
    def __init__(self, settings: Settings) -> None:
        self._product = settings.project_name
        self._environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def compose(self, template: Template, recipient: str, **context: Any) -> ComposedEmail:
        env = self._environment
        context = {"product": self._product, **context}
        subject = env.get_template(f"{template}.subject").render(**context).strip()
        return ComposedEmail(
            recipient=recipient,
            subject=subject,
            text=env.get_template(f"{template}.txt").render(**context),
            html=env.get_template(f"{template}.html").render(subject=subject, **context),
        )


class Mailer:
    def __init__(self, composer: EmailComposer) -> None:
        self._composer = composer

    def queue(
        self,
        session: AsyncSession,
        template: Template,
        recipient: str,
        *,
        account: uuid.UUID | None,
        **context: Any,
    ) -> None:
        """`account`: the account (or registration) the email is about, whatever address
        it goes to, so deleting the account deletes its mail and nobody else's."""
        email = self._composer.compose(template, recipient, **context)
        self._add(session, email, account)

    def queue_to_account(
        self, session: AsyncSession, template: Template, user: User, **context: Any
    ) -> None:
        """Mail to an account's own (proven) address, greeting it by its name, and tied
        to it (deleted with it)."""
        email = self._composer.compose(
            template, user.email, full_name=user.full_name, email=user.email, **context
        )
        self._add(session, email, user.id)

    async def forget_account(self, session: AsyncSession, account: uuid.UUID) -> None:
        """Every email queued or sent about a deleted account goes (its addresses, its
        name and its links are in them)."""
        await OutboxRepository(session).delete_for_account(account)

    def _add(self, session: AsyncSession, email: ComposedEmail, account: uuid.UUID | None) -> None:
        OutboxRepository(session).add(
            OutboxEmail(
                account_id=account,
                recipient=email.recipient,
                subject=email.subject,
                text_body=email.text,
                html_body=email.html,
            )
        )

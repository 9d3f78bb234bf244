"""Composing emails from templates and queueing them in the caller's transaction.

Nothing here talks to SMTP: an email becomes a row of the outbox, committed
or rolled back with the change that caused it, and the dispatcher delivers it.

Every template can be overridden by a file of the same name in `EMAIL_TEMPLATES_DIR`
(docs/email-templates.md lists them and what each is given). The overrides are read and
checked once, when the app is built: a syntax error, or a variable its template is not
given, refuses the start instead of failing the first email that uses it. Whatever only
rendering can find is caught per email: that email is composed from the bundled
templates instead and the failure logged, so no change is ever committed without its
email, nor refused because of a template.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    meta,
    nodes,
    select_autoescape,
)
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.kernel.branding import Branding
from fastapi_auth.kernel.log_redaction import redact
from fastapi_auth.kernel.models import OutboxEmail, User
from fastapi_auth.kernel.settings import ConfigurationError

logger = logging.getLogger("fastapi_auth.email")

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
PARTS = ("subject", "txt", "html")
"""Each template is three files, `<name>.subject`, `<name>.txt` and `<name>.html`, each
overridable on its own; the html ones extend `_layout.html`, overridable too."""

COMMON_VARIABLES = frozenset({"app_name", "logo_url", "primary_color", "sign_in_url"})
"""What every part of every template gets (`Branding.template_variables`); the html part
also gets `subject`, the rendered subject line."""
VARIABLES: Mapping[Template, frozenset[str]] = {
    # Mail to an address not yet proven carries nothing the requester wrote: no name.
    "verify_email": frozenset({"email", "link", "hours", "registered_at", "others_pending"}),
    "activate_account": frozenset({"email", "link", "minutes"}),
    "confirm_email_change": frozenset({"email", "link", "hours"}),
    # Mail to an account's own address (`Mailer.queue_to_account`) greets it by its name.
    "reset_password": frozenset({"full_name", "email", "link", "minutes"}),
    "password_changed": frozenset({"full_name", "email", "reset", "link"}),
    "email_change_notice": frozenset({"full_name", "email", "new_email", "link", "cancel_days"}),
    "email_change_cancelled": frozenset({"full_name", "email", "new_email"}),
    "register_attempt": frozenset({"full_name", "email", "link"}),
    "account_deleted": frozenset({"full_name", "email"}),
    "second_factor_changed": frozenset(
        {"full_name", "email", "change", "remaining", "mfa_now", "link"}
    ),
}
"""Exactly what each template is given, besides `COMMON_VARIABLES`: `compose` refuses any
other set, so this table (and the documentation written from it) cannot drift from the
calls that queue the mail."""


@dataclass(frozen=True)
class ComposedEmail:
    recipient: str
    subject: str
    text: str
    html: str


def _environment(loader: BaseLoader) -> Environment:
    """Autoescaped html, strict about undefined names; `auto_reload` off, so what runs is
    what was checked at start (a file edited later is read at the next start)."""
    return Environment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )


class EmailComposer:
    """Every template gets the branding (`COMMON_VARIABLES`) besides what its email is
    given; `templates_dir`: files there override the bundled templates of the same name."""

    def __init__(self, branding: Branding, *, templates_dir: Path | None = None) -> None:
        self._branding = dict(branding.template_variables)
        self._bundled = _environment(FileSystemLoader(TEMPLATES))
        self._templates_dir = templates_dir
        self._environment = self._bundled
        if templates_dir is not None:
            overrides = FileSystemLoader(templates_dir)
            self._environment = _environment(ChoiceLoader([overrides, FileSystemLoader(TEMPLATES)]))
            _check_overrides(self._environment, overrides, templates_dir)

    def compose(self, template: Template, recipient: str, **context: Any) -> ComposedEmail:
        expected = VARIABLES[template]
        if set(context) != expected:
            raise TypeError(
                f"the {template} email is given {sorted(context)}, "
                f"but VARIABLES says {sorted(expected)}"
            )
        context = {**self._branding, **context}
        if self._environment is self._bundled:
            return _render(self._bundled, template, recipient, context)
        try:
            return _render(self._environment, template, recipient, context)
        except Exception as error:
            logger.error(
                "email template %s failed (%s); this email was composed from the bundled "
                "templates instead",
                template,
                _where(error, self._templates_dir),
            )
            return _render(self._bundled, template, recipient, context)


def _render(
    env: Environment, template: Template, recipient: str, context: dict[str, Any]
) -> ComposedEmail:
    subject = env.get_template(f"{template}.subject").render(**context).strip()
    return ComposedEmail(
        recipient=recipient,
        subject=subject,
        text=env.get_template(f"{template}.txt").render(**context),
        html=env.get_template(f"{template}.html").render(subject=subject, **context),
    )


def _where(error: Exception, directory: Path | None) -> str:
    """The failing file and line and the kind of error, never a rendered value (an email
    holds its link's token): Jinja puts the template's lines in the traceback."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if directory is not None and frame.filename.startswith(str(directory))
    ]
    place = f"{Path(frames[-1].filename).name}, line {frames[-1].lineno}: " if frames else ""
    # An undefined name's message is the useful part ("'x' is undefined"); redacted, in
    # case what was undefined was looked up by a link.
    said = f": {redact(str(error))}" if isinstance(error, UndefinedError) else ""
    return f"{place}{type(error).__name__}{said}"


def _check_overrides(environment: Environment, overrides: FileSystemLoader, where: Path) -> None:
    """Every part of every template, and whatever it extends, includes or imports, read
    and parsed now and checked against what that template is given: the one moment a
    mistake can refuse the start rather than an email."""
    problems: dict[str, str] = {}
    """The first problem of each file (a layout's would otherwise be said once per email)."""
    reached: set[str] = set()
    for template, given in VARIABLES.items():
        for part in PARTS:
            allowed = given | COMMON_VARIABLES
            if part == "html":
                allowed |= {"subject"}
            for file, problem in _problems(environment, f"{template}.{part}", allowed, reached):
                problems.setdefault(file, problem)
    if problems:
        raise ConfigurationError(f"EMAIL_TEMPLATES_DIR ({where}): " + "; ".join(problems.values()))
    for name in reached:
        environment.get_template(name)  # compiled once, now, from what was checked
    files = {name for name in overrides.list_templates() if not name.startswith(".")}
    unused = sorted(files - reached)
    if unused:
        logger.warning(
            "EMAIL_TEMPLATES_DIR (%s) holds %s, which no email uses (see "
            "docs/email-templates.md for the names)",
            where,
            ", ".join(unused),
        )


def _problems(
    environment: Environment, name: str, allowed: set[str] | frozenset[str], reached: set[str]
) -> Iterator[tuple[str, str]]:
    """(file, problem) for `name` and each template it reaches."""
    pending = [(name, frozenset(allowed))]
    seen: set[str] = set()
    while pending:
        current, names = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        reached.add(current)
        try:
            assert environment.loader is not None
            source, filename, _ = environment.loader.get_source(environment, current)
            tree = environment.parse(source, current, filename)
        except TemplateNotFound as error:
            yield current, f"{name} needs {error.name}, which is neither there nor bundled"
            continue
        except TemplateSyntaxError as error:
            yield current, f"{current}, line {error.lineno}: {error.message}"
            continue
        undeclared = meta.find_undeclared_variables(tree) - set(environment.globals)
        missing = undeclared - names - _optional(tree)
        if missing:
            used = ", ".join(sorted(missing))
            yield (
                current,
                (
                    f"{current} uses {used}, which the {name.partition('.')[0]} email is not "
                    f"given (it is given {', '.join(sorted(names))})"
                ),
            )
        # What a template sets is seen by what it extends (a layout reads a child's
        # `{% set %}`), so those names are the referenced templates' to use too.
        assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "store"}
        for referenced in meta.find_referenced_templates(tree):
            if referenced is not None:
                pending.append((referenced, names | assigned))


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


def _optional(tree: nodes.Template) -> set[str]:
    """The names a template asks about (`x is defined`) or gives a default
    (`x | default(...)`): it expects them to be missing sometimes, as a layout shared by
    every email may."""
    tested = {
        test.node.name
        for test in tree.find_all(nodes.Test)
        if test.name in ("defined", "undefined") and isinstance(test.node, nodes.Name)
    }
    defaulted = {
        found.node.name
        for found in tree.find_all(nodes.Filter)
        if found.name in ("default", "d") and isinstance(found.node, nodes.Name)
    }
    return tested | defaulted

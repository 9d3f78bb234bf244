"""EMAIL_TEMPLATES_DIR: an override is what arrives; a mistake in one refuses the start, or
(found only by rendering) costs that email its override, never the email itself."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import httpx
import pytest
from pydantic import ValidationError

from fastapi_auth import Settings, create_app
from fastapi_auth.email.service import COMMON_VARIABLES, VARIABLES, EmailComposer, Template
from fastapi_auth.kernel.branding import Branding
from fastapi_auth.kernel.settings import ConfigurationError, describe
from tests.conftest import JWT_SECRET, AppFactory, http_client, make_settings
from tests.mailbox import Mailbox, SmtpCapture
from tests.services import TestDatabase
from tests.support import queued_subjects, register, register_verified, unique_email
from tests.test_cli import SERVE_LIMIT_SECONDS, served_environment

DOCS = Path(__file__).parents[2] / "docs" / "email-templates.md"
BRANDING = {
    "app_name": "Acme <Accounts>",
    "app_logo_url": "https://cdn.acme.example/logo.png",
    "app_primary_color": "#AA3300",
    "sign_in_url": "https://app.acme.example/login",
}


def write(directory: Path, **files: str) -> Path:
    """`reset_password_txt="..."` writes `reset_password.txt`."""
    for name, text in files.items():
        stem, _, suffix = name.rpartition("_")
        (directory / f"{stem}.{suffix}").write_text(text)
    return directory


async def test_an_override_is_what_arrives(
    make_app: AppFactory, mailbox: Mailbox, tmp_path: Path
) -> None:
    """One email's subject and text, and the layout of every HTML email: the rest stays
    bundled, and every part gets the branding."""
    write(
        tmp_path,
        reset_password_subject="{{ app_name }}: a new password for {{ email }}\n",
        reset_password_txt="Hi {{ full_name }}, open {{ link }} within {{ minutes }} min."
        " Then {{ sign_in_url }}.\n",
        _layout_html='<html><body data-layout="ours" style="color: {{ primary_color }}">'
        '<img src="{{ logo_url }}" alt="{{ app_name }}">{% block body %}{% endblock %}'
        "</body></html>\n",
    )
    app = await make_app(email_templates_dir=str(tmp_path), **BRANDING)
    async with http_client(app) as http:
        account = await register_verified(http, mailbox, full_name="Ada <b>Lovelace</b>")
        answer = await http.post("/auth/forgot-password", json={"email": account.email})
        assert answer.status_code == 202

    reset = await mailbox.last(account.email, "a new password")
    assert reset.subject == f"Acme <Accounts>: a new password for {account.email}"
    assert reset.text.startswith("Hi Ada <b>Lovelace</b>, open http")
    assert "within 60 min. Then https://app.acme.example/login." in reset.text
    assert reset.token
    # The bundled body, in our layout, escaped as HTML must be.
    html = reset.html
    assert 'data-layout="ours" style="color: #aa3300"' in html
    assert '<img src="https://cdn.acme.example/logo.png" alt="Acme &lt;Accounts&gt;">' in html
    assert "Hello Ada &lt;b&gt;Lovelace&lt;/b&gt;," in html
    assert "Choose a new password</a>" in html
    # An email not overridden: the bundled texts, with the branding.
    [verify] = mailbox.to(account.email)[:1]
    assert verify.subject == "Verify your email address"
    assert verify.text.rstrip().endswith("— Acme <Accounts>")
    assert 'data-layout="ours"' in verify.html


@pytest.mark.parametrize(
    ("files", "says"),
    [
        (
            {"reset_password_txt": "{{ link }} {{ tokn }}"},
            "reset_password.txt uses tokn, which the reset_password email is not given",
        ),
        # Mail to an unproven address carries nothing the requester wrote.
        (
            {
                "verify_email_html": '{% extends "_layout.html" %}{% block body %}'
                "{{ full_name }}{% endblock %}"
            },
            "verify_email.html uses full_name, which the verify_email email is not given",
        ),
        (
            {"_layout_html": "{{ link }}{% block body %}{% endblock %}"},
            "_layout.html uses link, which the ",
        ),
        ({"account_deleted_subject": "{% if %}"}, "account_deleted.subject, line 1:"),
        (
            {"register_attempt_html": '{% extends "frame.html" %}'},
            "register_attempt.html needs frame.html, which is neither there nor bundled",
        ),
    ],
)
async def test_a_mistake_in_an_override_refuses_the_start(
    database: TestDatabase, smtp: SmtpCapture, tmp_path: Path, files: dict[str, str], says: str
) -> None:
    write(tmp_path, **files)
    settings = make_settings(database, smtp, email_templates_dir=str(tmp_path))
    with pytest.raises(ConfigurationError) as raised:
        create_app(settings)
    message = str(raised.value)
    assert message.startswith(f"EMAIL_TEMPLATES_DIR ({tmp_path}): ")
    assert says in message
    assert "\n" not in message


def test_the_served_app_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    """`fastapi-auth serve` (uvicorn on `fastapi_auth.main:app`) says what is wrong and stops."""
    (tmp_path / "templates").mkdir()
    templates = write(tmp_path / "templates", reset_password_txt="{{ tokn }}")
    result = subprocess.run(
        [sys.executable, "-c", "import fastapi_auth.main as main; main.app"],
        env=served_environment(EMAIL_TEMPLATES_DIR=str(templates), JWT_SECRET=JWT_SECRET),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SERVE_LIMIT_SECONDS,
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"configuration error: EMAIL_TEMPLATES_DIR ({templates}): ")
    assert "reset_password.txt uses tokn, which the reset_password email is not given" in line


def test_a_directory_that_does_not_exist_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EMAIL_TEMPLATES_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert describe(raised.value) == (
        f"configuration error: EMAIL_TEMPLATES_DIR: '{tmp_path / 'missing'}' is not a "
        "directory (it must exist)"
    )


async def test_a_failure_only_rendering_finds_sends_the_bundled_email(
    make_app: AppFactory, mailbox: Mailbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`link` is given, so the start accepts it; `link.host` is not a thing, which only
    rendering finds. The request still succeeds and its email still goes, bundled."""
    write(tmp_path, verify_email_subject="Welcome\n", verify_email_txt="{{ link.host }}\n")
    app = await make_app(email_templates_dir=str(tmp_path))
    email = unique_email()
    async with http_client(app) as http:
        with caplog.at_level(logging.ERROR, logger="fastapi_auth.email"):
            assert (await register(http, email)).status_code == 202
    assert await queued_subjects(app, email) == ["Verify your email address"]
    verify = await mailbox.last(email, "Verify")
    assert verify.token
    [record] = [item for item in caplog.records if item.name == "fastapi_auth.email"]
    said = record.getMessage()
    assert said.startswith("email template verify_email failed (verify_email.txt, line 1: ")
    assert "UndefinedError" in said
    assert "bundled templates instead" in said
    assert verify.token not in said


async def test_a_file_no_email_uses_is_a_warning(
    make_app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, verify_emial_subject="Typo\n", reset_password_subject="Reset\n")
    with caplog.at_level(logging.WARNING, logger="fastapi_auth.email"):
        await make_app(email_templates_dir=str(tmp_path))
    assert "holds verify_emial.subject, which no email uses" in caplog.text
    assert "reset_password.subject" not in caplog.text


def test_what_an_override_includes_or_sets_for_its_layout_is_checked_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An included file is held to its includer's variables, and is no unused file; a name
    a template sets is its layout's to use."""
    write(
        tmp_path,
        reset_password_txt='{% include "footer.txt" %}',
        footer_txt="{{ app_name }} {{ minutes }}",
        account_deleted_html='{% extends "_layout.html" %}{% set heading = "Bye" %}'
        "{% block body %}{{ email }}{% endblock %}",
        _layout_html="{{ heading | default(subject) }}{% block body %}{% endblock %}",
    )
    with caplog.at_level(logging.WARNING, logger="fastapi_auth.email"):
        composer = EmailComposer(Branding(app_name="Acme"), templates_dir=tmp_path)
    assert "no email uses" not in caplog.text
    reset = composer.compose(
        "reset_password",
        "ada@example.com",
        full_name=None,
        email="ada@example.com",
        link="https://x.example/reset-password?token=t",
        minutes=60,
    )
    assert reset.text == "Acme 60"
    deleted = composer.compose(
        "account_deleted", "a@example.com", full_name=None, email="a@example.com"
    )
    assert deleted.html == "Byea@example.com"
    # The layout is every html email's: for the others, which set no heading, the subject.
    assert reset.html.startswith("Reset your password")

    write(tmp_path, account_deleted_txt='{% include "footer.txt" %}')
    with pytest.raises(
        ConfigurationError, match=r"footer\.txt uses minutes, which the account_deleted"
    ):
        EmailComposer(Branding(), templates_dir=tmp_path)


def test_the_bundled_templates_use_only_what_they_are_given(tmp_path: Path) -> None:
    """An empty directory: every template is the bundled one, checked as overrides are."""
    EmailComposer(Branding(), templates_dir=tmp_path)


def test_every_template_has_its_variables() -> None:
    assert set(VARIABLES) == set(get_args(Template))


def test_the_documentation_lists_exactly_what_each_template_is_given() -> None:
    text = DOCS.read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \|[^|]+\|[^|]+\| ((?:`[a-z_]+`(?:, )?)+) \|$", text, re.M)
    documented = {name: set(re.findall(r"`([a-z_]+)`", variables)) for name, variables in rows}
    assert documented == {name: set(given) for name, given in VARIABLES.items()}
    common = set(
        re.findall(
            r"^\| `([a-z_]+)` \|", text.split("## What every template gets")[1].split("##")[0], re.M
        )
    )
    assert common == COMMON_VARIABLES | {"subject"}


def test_compose_refuses_variables_the_table_does_not_name() -> None:
    composer = EmailComposer(Branding())
    with pytest.raises(TypeError, match="VARIABLES says"):
        composer.compose("account_deleted", "ada@example.com", email="ada@example.com")


async def test_without_the_setting_the_bundled_emails_are_sent(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Without the setting, the bundled emails are sent unchanged (the suite's own app)."""
    email = unique_email()
    assert (await register(client, email)).status_code == 202
    verify = await mailbox.last(email, "Verify")
    assert verify.text.rstrip().endswith("— fastapi-auth")

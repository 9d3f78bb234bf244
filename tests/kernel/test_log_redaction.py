"""No log line shows a link's token, however the query string is written."""

from __future__ import annotations

import logging

import pytest

from fastapi_auth.kernel.log_redaction import RedactLinkTokens, redact

SECRET = "eyJyaWQiOiJhYWQifQ.aw9GBg.TVtWXNSNPi9v7uETOdrcTD6kD60"


@pytest.mark.parametrize(
    "line",
    [
        f'"GET /auth/verify-email?token={SECRET} HTTP/1.1" 200',
        f'"GET /reset-password?lang=en&token={SECRET} HTTP/1.1" 200',
        f'"GET /auth/cancel-email-change?tok%65n={SECRET} HTTP/1.1" 400',
        f'"GET /auth/verify-email?TOKEN={SECRET} HTTP/1.1" 400',
        f'"GET /elsewhere?x=1;token={SECRET} HTTP/1.1" 404',
        f'"GET /elsewhere?a=1&%74oken={SECRET} HTTP/1.1" 404',
        f'"GET /elsewhere?refresh_token={SECRET}" 404',
        f"a link: https://accounts.example.com/reset-password?token={SECRET}.",
        f'"GET /elsewhere?token=x"{SECRET}" HTTP/1.1" 404',
    ],
)
def test_a_token_is_redacted_however_it_is_written(line: str) -> None:
    assert SECRET not in redact(line)
    assert "[redacted]" in redact(line)


def test_the_rest_of_the_line_stays() -> None:
    line = '"GET /users/me/sessions?cursor=abc&limit=3 HTTP/1.1" 200'
    assert redact(line) == line
    tokened = redact(f'"GET /auth/verify-email?token={SECRET} HTTP/1.1" 200')
    assert tokened == '"GET /auth/verify-email?[redacted] HTTP/1.1" 200'


def test_the_filter_redacts_arguments_and_lets_mail_to_the_log_through() -> None:
    arguments = ("127.0.0.1:1", "GET", f"/reset-password?token={SECRET}", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, "%s - %s %s %s %s", arguments, None
    )
    assert RedactLinkTokens().filter(record)
    assert SECRET not in record.getMessage()
    kept = logging.LogRecord("fastapi_auth.email", logging.WARNING, "", 0, SECRET, (), None)
    kept.fastapi_auth_keep_links = True
    assert RedactLinkTokens().filter(kept)
    assert kept.getMessage() == SECRET

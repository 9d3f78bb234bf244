"""No log line shows a link's token: the access log's request lines included.

Every emailed link carries its token in the query string (`/auth/verify-email?token=`,
`/reset-password?token=`, `/auth/cancel-email-change?token=`), and the access log
writes each request line whole, so a log reader could verify an address or reset a
password. The filter replaces the value of every token-like query parameter, on any
path, in the message and in its arguments; the path and the other parameters stay, so
the log still says which link was used and how it was answered. A parameter's name is
read percent-decoded (`tok%65n=` is `token=` to the app), and on the tokened paths the
whole query string goes, whatever it holds.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

REDACTED = "[redacted]"
SECRET_PARAMETERS = frozenset(
    {"token", "access_token", "refresh_token", "id_token", "mfa_token", "code", "password"}
)
PARAMETER = re.compile(r"(?P<lead>[?&;](?P<name>[^=&;#\s\"']*)=)(?P<value>[^&;#\s]*)")
TOKENED_PATH = re.compile(
    r"(?P<path>/(?:auth/verify-email|auth/cancel-email-change|reset-password))\?[^\s\"'#]*"
)


def _parameter(match: re.Match[str]) -> str:
    if unquote(match["name"]).strip().lower() in SECRET_PARAMETERS:
        return match["lead"] + REDACTED
    return match[0]


KEEP_LINKS = "fastapi_auth_keep_links"
"""Set on a record (`extra={KEEP_LINKS: True}`) whose links are its point: the emails the
log sender writes on a laptop with no SMTP server (`EMAIL_HOST` unset)."""


def redact(text: str) -> str:
    text = TOKENED_PATH.sub(lambda match: f"{match['path']}?{REDACTED}", text)
    return PARAMETER.sub(_parameter, text)


def _redacted(argument: Any) -> Any:
    return redact(argument) if isinstance(argument, str) else argument


class RedactLinkTokens(logging.Filter):
    """A filter for handlers (a handler's filter sees every record it writes, whichever
    logger made it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, KEEP_LINKS, False):
            return True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(argument) for argument in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the filter on both of its handlers and
    this package's loggers writing through the same one."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "filters": {"redact": {"()": RedactLinkTokens}},
        "handlers": {
            name: {**handler, "filters": ["redact"]}
            for name, handler in LOGGING_CONFIG["handlers"].items()
        },
        "loggers": {
            **LOGGING_CONFIG["loggers"],
            "fastapi_auth": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
    return config

"""Every log line the whole run writes, scanned at its end for the secrets it used.

The run records what no log line may show, as it meets it: each password sent in a
request body, each access and refresh token a response handed out, each link token an
email carried. At the end, every line any logger wrote in this process (tracebacks
included) is searched for each of them; one found fails the run, naming where.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qsl

import httpx

from fastapi_auth.kernel.log_redaction import KEEP_LINKS

SECRET_FIELDS = ("password", "current_password", "new_password", "confirm_password", "token")
TOKEN_FIELDS = ("access_token", "refresh_token")
SHORTEST_SECRET = 8
"""Shorter strings (an empty password, "x") would match by chance."""
HARNESS_LOGGERS = ("httpx", "mail.log")
"""The test client's and the test SMTP server's own logs: not the service's lines."""


class LogRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, KEEP_LINKS, False) or record.name.startswith(HARNESS_LOGGERS):
            return
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.lines.append(f"{record.name} {record.levelname} (unformattable)")


RECORDER = LogRecorder()
SECRETS: set[str] = set()


def remember(value: object) -> None:
    if isinstance(value, str) and len(value) >= SHORTEST_SECRET:
        SECRETS.add(value)


async def remember_request_secrets(request: httpx.Request) -> None:
    try:
        body = request.content
    except httpx.RequestNotRead:
        return
    fields: dict[str, object] = {}
    try:
        parsed = json.loads(body) if body else None
        if isinstance(parsed, dict):
            fields = parsed
    except RecursionError:
        return
    except ValueError:
        fields = dict(parse_qsl(body.decode("utf-8", "replace")))
    for name in SECRET_FIELDS:
        remember(fields.get(name))


async def remember_response_tokens(response: httpx.Response) -> None:
    await response.aread()
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict):
        for name in TOKEN_FIELDS:
            remember(body.get(name))


def leaks() -> list[str]:
    found = []
    for line in RECORDER.lines:
        for secret in SECRETS:
            if secret in line:
                found.append(f"{secret[:6]}… in: {line[:300]}")
    return found

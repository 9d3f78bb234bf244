"""Forging emailed-link tokens the way only the server could, to reach states HTTP cannot."""

from __future__ import annotations

import time

from fastapi import FastAPI
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.support import settings_of


def backdated_link_token(app: FastAPI, token: str, salt: str, age_seconds: int) -> str:
    """The same signed payload, re-signed as if issued `age_seconds` ago: expiry without
    waiting, and nothing else about the token changed."""

    class BackdatedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_seconds

    secret = settings_of(app).signing_secret
    payload = URLSafeTimedSerializer(secret).loads(token, salt=salt)
    return URLSafeTimedSerializer(secret, signer=BackdatedSigner).dumps(payload, salt=salt)


def tampered(token: str) -> str:
    """One character of the signed payload changed; the signature left as it was."""
    position = len(token) // 4
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1 :]

"""Every token the service issues, each with its own audience or salt.

- access tokens: short-lived HS256 JWTs naming the user and the session;
- refresh tokens: 256 random bits, stored only as a SHA-256 digest;
- emailed links: itsdangerous signatures, one salt per purpose, naming only the
  record they act on (a registration, an email change) or the account and the
  security stamp they were issued under; the database decides whether each
  still works.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from itsdangerous import BadSignature, URLSafeTimedSerializer

from fastapi_auth.kernel.models import utcnow
from fastapi_auth.kernel.settings import Settings

ACCESS_TYPE = "access"
JWT_ALGORITHM = "HS256"
REFRESH_TOKEN_BYTES = 32
VERIFIED_TOKENS_CACHED = 4096

VERIFY_EMAIL_SALT = "fastapi-auth.verify-email"
CHANGE_EMAIL_SALT = "fastapi-auth.change-email"
CANCEL_EMAIL_CHANGE_SALT = "fastapi-auth.cancel-email-change"
RESET_PASSWORD_SALT = "fastapi-auth.reset-password"
ACTIVATE_ACCOUNT_SALT = "fastapi-auth.activate-account"


class TokenError(Exception):
    """A token that is malformed, tampered with, expired or of the wrong kind."""


PASSWORD_ONLY = ("pwd",)
SECOND_FACTORS = frozenset({"otp", "rec", "hwk"})
"""RFC 8176 names of what proves more than a password: a one-time code, a recovery
code, a passkey (`hwk`, a proof of a hardware-bound key; alone it is both factors)."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    amr: tuple[str, ...] = PASSWORD_ONLY


class AccessTokenCodec:
    """`iss` and `aud` are settings of their own (`JWT_ISSUER`, `JWT_AUDIENCE`), never the
    display name: renaming the product keeps every token valid, and changing the issuer
    (or audience) is what ends them."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.signing_secret
        self._issuer = settings.token_issuer
        self._audience = settings.jwt_audience
        self.lifetime_seconds = settings.access_token_seconds
        self._verified = functools.lru_cache(maxsize=VERIFIED_TOKENS_CACHED)(self._verify)

    def issue(
        self, user_id: uuid.UUID, session_id: uuid.UUID, amr: tuple[str, ...] = PASSWORD_ONLY
    ) -> str:
        now = utcnow()
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "amr": list(amr),
            "typ": ACCESS_TYPE,
            "jti": secrets.token_urlsafe(16),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime_seconds),
        }
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)

    def read(self, token: str) -> AccessClaims:
        """A client sends the same token with every request until it expires, so a verified
        token's claims are kept (the exact string, only after its signature and claims
        passed; failures are never kept) and each later use checks only its expiry. Whether
        its session is still live is not cached: the caller asks the database every time."""
        claims, expires_at = self._verified(token)
        if time.time() >= expires_at:
            raise TokenError("Signature has expired")
        return claims

    def _verify(self, token: str) -> tuple[AccessClaims, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "sid", "jti", "typ", "aud", "iss"]},
            )
            if claims["typ"] != ACCESS_TYPE:
                raise TokenError("not an access token")
            amr = claims.get("amr", PASSWORD_ONLY)
            if not isinstance(amr, list | tuple) or not all(isinstance(m, str) for m in amr):
                raise TokenError("amr is not a list of names")
            return (
                AccessClaims(
                    user_id=uuid.UUID(claims["sub"]),
                    session_id=uuid.UUID(claims["sid"]),
                    amr=tuple(amr),
                ),
                float(claims["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as error:
            raise TokenError(str(error)) from error


def new_refresh_token() -> str:
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


REFRESH_TOKEN_LENGTH = len(secrets.token_urlsafe(REFRESH_TOKEN_BYTES))


REFRESH_TOKEN_ALPHABET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


def is_refresh_token_shaped(token: str) -> bool:
    """A string no refresh token could be (any length but the one, any character
    outside URL-safe base64, a lone surrogate) needs no query to be refused."""
    return len(token) == REFRESH_TOKEN_LENGTH and REFRESH_TOKEN_ALPHABET.issuperset(token)


def hash_refresh_token(token: str) -> str:
    """Refresh tokens carry 256 bits of entropy, so a fast unsalted digest is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


class LinkTokenCodec:
    """Signed, expiring payloads for emailed links; the salt keeps each purpose apart."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.signing_secret
        self._serializer = URLSafeTimedSerializer(self._secret)
        self.verify_max_age = settings.verify_token_expire_hours * 3600
        self.reset_max_age = settings.reset_token_expire_minutes * 60
        self.cancel_email_change_max_age = (
            self.verify_max_age + settings.email_change_cancel_days * 24 * 3600
        )

    def dump(self, payload: dict[str, Any], salt: str) -> str:
        return self._serializer.dumps(payload, salt=salt)

    def load(self, token: str, salt: str, max_age: int) -> dict[str, Any]:
        try:
            payload = self._serializer.loads(token, salt=salt, max_age=max_age)
        except BadSignature as error:
            raise TokenError(str(error)) from error
        if not isinstance(payload, dict):
            raise TokenError("unexpected payload")
        return payload

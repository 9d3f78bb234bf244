"""Every table, imported here so `Base.metadata` is complete for Alembic."""

from fastapi_auth.kernel.models.auth_session import AuthSession
from fastapi_auth.kernel.models.base import Base, utcnow
from fastapi_auth.kernel.models.email_change import EmailChange
from fastapi_auth.kernel.models.mfa import (
    MfaToken,
    Passkey,
    RecoveryCode,
    TotpAuthenticator,
    WebauthnChallenge,
)
from fastapi_auth.kernel.models.outbox_email import OutboxEmail
from fastapi_auth.kernel.models.refresh_token import RefreshToken
from fastapi_auth.kernel.models.registration import Registration
from fastapi_auth.kernel.models.security_event import SecurityEvent
from fastapi_auth.kernel.models.user import User

__all__ = [
    "AuthSession",
    "Base",
    "EmailChange",
    "MfaToken",
    "OutboxEmail",
    "Passkey",
    "RecoveryCode",
    "RefreshToken",
    "Registration",
    "SecurityEvent",
    "TotpAuthenticator",
    "User",
    "WebauthnChallenge",
    "utcnow",
]

"""Every table, imported here so `Base.metadata` is complete for Alembic."""

from fastapi_auth.models.auth_session import AuthSession
from fastapi_auth.models.base import Base, utcnow
from fastapi_auth.models.email_change import EmailChange
from fastapi_auth.models.outbox_email import OutboxEmail
from fastapi_auth.models.refresh_token import RefreshToken
from fastapi_auth.models.registration import Registration
from fastapi_auth.models.security_event import SecurityEvent
from fastapi_auth.models.user import User

__all__ = [
    "AuthSession",
    "Base",
    "EmailChange",
    "OutboxEmail",
    "RefreshToken",
    "Registration",
    "SecurityEvent",
    "User",
    "utcnow",
]

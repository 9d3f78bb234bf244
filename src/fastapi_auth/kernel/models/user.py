from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_auth.kernel.models.base import Base, CreatedAtMixin, IdMixin, utcnow

EMAIL_LENGTH = 320
JSON_OBJECT = JSON().with_variant(JSONB(), "postgresql")
"""JSONB on PostgreSQL, so a host application can index and query into it; JSON text on
SQLite."""


class User(IdMixin, CreatedAtMixin, Base):
    """A verified account (registrations wait in `registrations` until their link is
    followed).

    `security_stamp` is the account's security state as one number: every credential
    change (password reset or change, an email change confirmed or cancelled) moves it on
    with a compare-and-set, and everything that depends on a credential carries the value
    it was made under (a session, a reset link, a pending email change, a login between
    its password check and its session), so whatever was made under an earlier value is
    dead, and of two changes racing from one value exactly one wins.

    `user_metadata` is the account's own to set; `app_metadata` only the host application
    (and admins) may set, so it can hold what the account must not change itself: a plan,
    a tenant id. Each is replaced whole, never merged."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    email_key: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    pending_email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(255))
    phone_number: Mapped[str | None] = mapped_column(String(16))
    is_verified: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    security_stamp: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    mfa_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Whether the account has a second factor (a confirmed app or a passkey): kept on the
    row, written by the credential change that adds or removes one, so that login and
    `/users/me` read it with the account instead of asking two more tables."""
    user_metadata: Mapped[dict[str, Any]] = mapped_column(
        JSON_OBJECT, default=dict, server_default=text("'{}'")
    )
    app_metadata: Mapped[dict[str, Any]] = mapped_column(
        JSON_OBJECT, default=dict, server_default=text("'{}'")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

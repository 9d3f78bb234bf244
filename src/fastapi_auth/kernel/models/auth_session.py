from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_auth.kernel.models.base import Base, CreatedAtMixin, IdMixin, utcnow


class AuthSession(IdMixin, CreatedAtMixin, Base):
    """One login: a chain of refresh tokens on one device, ended by revoking it, and dead
    as soon as its `security_stamp` is not its user's (a credential changed since)."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    security_stamp: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    amr: Mapped[str] = mapped_column(String(32), default="pwd", server_default=text("'pwd'"))
    """How the login proved who it was (RFC 8176 names, space-separated: `pwd`,
    `pwd otp`, `pwd rec`, `hwk`, `pwd hwk`): every access token of the session says so."""

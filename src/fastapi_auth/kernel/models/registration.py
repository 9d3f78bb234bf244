from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_auth.kernel.models.base import Base, CreatedAtMixin, IdMixin
from fastapi_auth.kernel.models.user import EMAIL_LENGTH


class Registration(IdMixin, CreatedAtMixin, Base):
    """One sign-up waiting for its address to be proven, with the password and profile it
    was made with. Several may wait for one address (nothing tells a registrant whether
    the address is taken); the link each one sent activates exactly that one, and the
    account it becomes takes its id. Once the address has an account, the rest are
    deleted."""

    __tablename__ = "registrations"

    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    email_key: Mapped[str] = mapped_column(String(EMAIL_LENGTH), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(255))
    phone_number: Mapped[str | None] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(index=True)

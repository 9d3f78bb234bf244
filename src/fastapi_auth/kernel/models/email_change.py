from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_auth.kernel.models.base import Base, CreatedAtMixin, IdMixin
from fastapi_auth.kernel.models.user import EMAIL_LENGTH


class EmailChange(IdMixin, CreatedAtMixin, Base):
    """One requested change of an account's address: pending until the link sent to the
    new address confirms it (bound to the `security_stamp` it was requested under), and
    cancellable from the old address while pending and for a while after it was
    confirmed, which puts the old address back."""

    __tablename__ = "email_changes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    old_email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    new_email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    security_stamp: Mapped[int] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()

    def is_pending(self, now: datetime, link_lifetime: timedelta) -> bool:
        """Neither confirmed nor cancelled, and younger than its confirmation link."""
        return (
            self.confirmed_at is None
            and self.cancelled_at is None
            and self.created_at > now - link_lifetime
        )

    def is_cancellable(self, now: datetime, after_confirmation: timedelta) -> bool:
        """Pending, or confirmed less than `after_confirmation` ago; not cancelled yet."""
        return self.cancelled_at is None and (
            self.confirmed_at is None or self.confirmed_at > now - after_confirmation
        )

    def confirmed_since(self, moment: datetime) -> bool:
        return (
            self.cancelled_at is None
            and self.confirmed_at is not None
            and self.confirmed_at >= moment
        )

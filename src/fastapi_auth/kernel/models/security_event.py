from __future__ import annotations

import uuid

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_auth.kernel.models.base import Base, CreatedAtMixin, IdMixin


class SecurityEvent(IdMixin, CreatedAtMixin, Base):
    """What happened to an account. `user_id` is kept without a foreign key so the log
    outlives a deleted account; deletion erases the IP and user agent instead."""

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_user_created", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[uuid.UUID | None] = mapped_column()
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))

"""All SQL about registrations waiting for their address to be proven."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.models import Registration


class RegistrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, registration: Registration) -> None:
        self.session.add(registration)

    async def get_live(self, registration_id: uuid.UUID, now: datetime) -> Registration | None:
        return await self.session.scalar(
            select(Registration).where(
                Registration.id == registration_id, Registration.expires_at > now
            )
        )

    async def newest_live(self, key: str, now: datetime) -> Registration | None:
        return await self.session.scalar(
            select(Registration)
            .where(Registration.email_key == key, Registration.expires_at > now)
            .order_by(Registration.created_at.desc(), Registration.id.desc())
            .limit(1)
        )

    async def count_live(self, key: str, now: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Registration)
            .where(Registration.email_key == key, Registration.expires_at > now)
        )
        return int(count or 0)

    async def keep_until(self, registration_id: uuid.UUID, until: datetime) -> None:
        """Long enough for the link just sent; never shorter than it was."""
        await self.session.execute(
            update(Registration)
            .where(Registration.id == registration_id, Registration.expires_at < until)
            .values(expires_at=until)
            .execution_options(synchronize_session=False)
        )

    async def delete_for(self, key: str) -> None:
        """The address has an account now: every other registration of it is void."""
        await self.session.execute(
            delete(Registration)
            .where(Registration.email_key == key)
            .execution_options(synchronize_session=False)
        )

    async def delete_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(Registration).where(Registration.expires_at <= now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

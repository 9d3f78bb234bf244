"""All SQL about users."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.models import AuthSession, User, utcnow


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email_key(self, key: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email_key == key))

    async def get_for_live_session(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
    ) -> User | None:
        """One query that both loads the user and proves the session is still live."""
        return await self.session.scalar(
            select(User)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                User.id == user_id,
                AuthSession.id == session_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
        )

    async def insert_if_email_free(self, user: User) -> bool:
        """Insert inside a savepoint: a concurrent twin loses cleanly instead of with a 500."""
        try:
            async with self.session.begin_nested():
                self.session.add(user)
        except IntegrityError:
            return False
        return True

    async def email_key_taken(self, key: str, by_other_than: uuid.UUID) -> bool:
        owner = await self.session.scalar(select(User.id).where(User.email_key == key))
        return owner is not None and owner != by_other_than

    async def apply_email_change(self, user: User, email: str, key: str) -> bool:
        """Swap in a confirmed address; False when another account took it meanwhile."""
        try:
            async with self.session.begin_nested():
                user.email = email
                user.email_key = key
                user.pending_email = None
                user.is_verified = True
        except IntegrityError:
            await self.session.refresh(user)
            return False
        return True

    async def replace_password_hash(self, user: User, old_hash: str, new_hash: str) -> bool:
        """Conditional on the old hash, so two uses of one reset link change it once."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == old_hash)
            .values(password_hash=new_hash, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await self.session.refresh(user)
        return True

    async def delete(self, user: User) -> None:
        await self.session.execute(delete(User).where(User.id == user.id))

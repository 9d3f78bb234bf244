"""All SQL about sessions and their refresh tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.models import AuthSession, RefreshToken, User


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, auth_session: AuthSession, token_hash: str) -> None:
        self.session.add(auth_session)
        await self.session.flush()
        self.session.add(RefreshToken(session_id=auth_session.id, token_hash=token_hash))

    def add_refresh_token(self, session_id: uuid.UUID, token_hash: str) -> None:
        self.session.add(RefreshToken(session_id=session_id, token_hash=token_hash))

    async def find_by_refresh_token(
        self, token_hash: str
    ) -> tuple[RefreshToken, AuthSession, User] | None:
        row = (
            await self.session.execute(
                select(RefreshToken, AuthSession, User)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .join(User, User.id == AuthSession.user_id)
                .where(RefreshToken.token_hash == token_hash)
            )
        ).one_or_none()
        return None if row is None else (row[0], row[1], row[2])

    async def spend_refresh_token(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Exactly one of any number of concurrent spenders sees True."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.spent_at.is_(None))
            .values(spent_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def touch(
        self, session_id: uuid.UUID, now: datetime, ip_address: str | None, user_agent: str | None
    ) -> None:
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(last_used_at=now, ip_address=ip_address, user_agent=user_agent)
            .execution_options(synchronize_session=False)
        )

    async def get_live(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
    ) -> AuthSession | None:
        return await self.session.scalar(
            select(AuthSession).where(
                AuthSession.id == session_id,
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
        )

    async def list_live(self, user_id: uuid.UUID, now: datetime) -> Sequence[AuthSession]:
        return (
            await self.session.scalars(
                select(AuthSession)
                .where(
                    AuthSession.user_id == user_id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > now,
                )
                .order_by(AuthSession.last_used_at.desc())
            )
        ).all()

    async def revoke(self, session_id: uuid.UUID, reason: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def revoke_all(
        self, user_id: uuid.UUID, reason: str, now: datetime, keep: uuid.UUID | None = None
    ) -> Sequence[uuid.UUID]:
        statement = (
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .returning(AuthSession.id)
            .execution_options(synchronize_session=False)
        )
        if keep is not None:
            statement = statement.where(AuthSession.id != keep)
        return (await self.session.scalars(statement)).all()

    async def prune_batch(self, now: datetime, revoked_before: datetime, batch_size: int) -> int:
        """Delete one batch of ended sessions (their tokens go by cascade)."""
        ended = (
            select(AuthSession.id)
            .where(
                or_(
                    AuthSession.expires_at <= now,
                    AuthSession.revoked_at <= revoked_before,
                )
            )
            .limit(batch_size)
        )
        ids = (await self.session.scalars(ended)).all()
        if not ids:
            return 0
        await self.session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(ids)))
        await self.session.execute(delete(AuthSession).where(AuthSession.id.in_(ids)))
        return len(ids)

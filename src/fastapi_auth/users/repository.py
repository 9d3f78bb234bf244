"""All SQL about users."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict

from fastapi_auth.db import Database, Statements
from fastapi_auth.models import AuthSession, User, utcnow

USER_OF_LIVE_SESSION = (
    select(User)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
)
"""One indexed join that both loads the user and proves the session is neither revoked
nor expired: the check every authenticated request makes."""


async def user_of_live_session(
    database: Database, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> User | None:
    """Runs on the driver, in autocommit (a lone SELECT needs no BEGIN and COMMIT round
    trips), outside the request's transaction: a read-only route then opens none. The user
    comes back detached; `UserService` attaches it to the request's session to change it."""

    async def query(statements: Statements) -> dict[str, Any] | None:
        return await statements.one(
            USER_OF_LIVE_SESSION, user_id=user_id, session_id=session_id, now=now
        )

    columns = await database.on_driver(query, read_only=True)
    return None if columns is None else _detached_user(columns)


def _detached_user(columns: Mapping[Any, Any]) -> User:
    """A `User` as if loaded by a session that has since closed: no pending changes. Filled
    the way SQLAlchemy's own loader fills one (straight into its `__dict__`), which costs a
    third of what the constructor's per-attribute events do."""
    user: User = User.__mapper__.class_manager.new_instance()
    instance_dict(user).update(columns)
    make_transient_to_detached(user)
    return user


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email_key(self, key: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email_key == key))

    async def get_detached_by_email_key(self, key: str) -> User | None:
        """Read in a transaction of its own, for login: the password check that follows
        takes tens of milliseconds (more while other logins queue for a hashing thread),
        and the request's transaction, with its pooled connection, should not be held open
        across it. Attach the user to the request's session before changing it."""
        async with AsyncSession(self.session.bind, expire_on_commit=False) as reader:
            user = await reader.scalar(select(User).where(User.email_key == key))
            if user is not None:
                reader.expunge(user)
        return user

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

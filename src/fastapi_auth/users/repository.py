"""All SQL about users."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, String, Uuid, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.sql.elements import ColumnElement

from fastapi_auth.db import Coalesced, Database, Statements
from fastapi_auth.models import AuthSession, User, utcnow


def _users_of_live_sessions(session_ids: ColumnElement[bool]) -> Select[User, uuid.UUID]:
    return (
        select(User, AuthSession.id.label(LIVE_SESSION_ID))
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            session_ids,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > bindparam("now"),
        )
    )


LIVE_SESSION_ID = "live_session_id"
USERS_OF_LIVE_SESSIONS_POSTGRESQL = _users_of_live_sessions(
    AuthSession.id == any_(bindparam("session_ids", type_=postgresql.ARRAY(Uuid())))
)
USERS_OF_LIVE_SESSIONS_SQLITE = _users_of_live_sessions(
    AuthSession.id.in_(
        select(func.json_each(bindparam("session_ids", type_=String())).table_valued("value"))
    )
)
"""One indexed join that both loads the users and proves their sessions neither revoked
nor expired: the check every authenticated request makes, for all the requests that
made it in the same turn of the event loop (`Coalesced`). The ids go as one array
(PostgreSQL) or one JSON array of the hex form SQLAlchemy stores them in (SQLite), so the
statement is prepared once whatever the number of sessions."""


class LiveSessions:
    """Answers the access check: the user of a live session, or None."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._checks: Coalesced[uuid.UUID, dict[str, Any] | None] = Coalesced(self._users_of)

    async def user_of(self, user_id: uuid.UUID, session_id: uuid.UUID) -> User | None:
        """The user comes back detached: `UserService` attaches it to the request's
        session to change it. The session must belong to the token's user, too."""
        columns = await self._checks.call(session_id)
        if columns is None or columns["id"] != user_id:
            return None
        return _detached_user(columns)

    async def _users_of(self, session_ids: list[uuid.UUID]) -> list[dict[str, Any] | None]:
        """On the driver, in autocommit (a lone SELECT needs no BEGIN and COMMIT round
        trips), outside any request's transaction: a read-only route then opens none.
        The time is taken when the query is sent, not when each request asked."""
        if self._database.is_sqlite:
            statement = USERS_OF_LIVE_SESSIONS_SQLITE
            ids: Any = json.dumps([session_id.hex for session_id in session_ids])
        else:
            statement, ids = USERS_OF_LIVE_SESSIONS_POSTGRESQL, session_ids

        async def query(statements: Statements) -> list[dict[str, Any]]:
            return await statements.all(statement, session_ids=ids, now=utcnow())

        rows = await self._database.on_driver(query, read_only=True)
        users = {row.pop(LIVE_SESSION_ID): row for row in rows}
        return [users.get(session_id) for session_id in session_ids]


def _detached_user(columns: Mapping[str, Any]) -> User:
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

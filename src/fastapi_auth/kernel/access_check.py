"""The access check every authenticated request makes: is the token's session live?

One indexed join over sessions and users, run on the driver fast path, and batched for
the requests that reach it in the same turn of the event loop.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, String, Uuid, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.sql.elements import ColumnElement

from fastapi_auth.kernel.coalesced import Coalesced
from fastapi_auth.kernel.fast_path import FastPath, Statements
from fastapi_auth.kernel.models import AuthSession, User, utcnow


def _users_of_live_sessions(session_ids: ColumnElement[bool]) -> Select[User, uuid.UUID]:
    return (
        select(User, AuthSession.id.label(LIVE_SESSION_ID))
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            session_ids,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > bindparam("now"),
            AuthSession.security_stamp == User.security_stamp,
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
"""One indexed join that both loads the users and proves their sessions neither revoked,
nor expired, nor older than their user's last credential change: the check every
authenticated request makes, for all the requests that made it in the same turn of the
event loop (`Coalesced`). The ids go as one array (PostgreSQL) or one JSON array of the
hex form SQLAlchemy stores them in (SQLite), so the statement is prepared once whatever
the number of sessions."""


class LiveSessions:
    """Answers the access check: the user of a live session, or None."""

    def __init__(self, fast_path: FastPath) -> None:
        self._fast_path = fast_path
        self._checks: Coalesced[uuid.UUID, dict[str, Any] | None] = Coalesced(self._users_of)

    async def user_of(self, user_id: uuid.UUID, session_id: uuid.UUID) -> User | None:
        """The user comes back detached (`principal.AttachedPrincipal` attaches it to the
        request's session for a route that writes). The session must belong to the
        token's user, too."""
        columns = await self._checks.call(session_id)
        if columns is None or columns["id"] != user_id:
            return None
        return _detached_user(columns)

    async def _users_of(self, session_ids: list[uuid.UUID]) -> list[dict[str, Any] | None]:
        """On the driver, in autocommit (a lone SELECT needs no BEGIN and COMMIT round
        trips), outside any request's transaction: a read-only route then opens none.
        The time is taken when the query is sent, not when each request asked."""
        if self._fast_path.is_sqlite:
            statement = USERS_OF_LIVE_SESSIONS_SQLITE
            ids: Any = json.dumps([session_id.hex for session_id in session_ids])
        else:
            statement, ids = USERS_OF_LIVE_SESSIONS_POSTGRESQL, session_ids

        async def query(statements: Statements) -> list[dict[str, Any]]:
            return await statements.all(statement, session_ids=ids, now=utcnow())

        rows = await self._fast_path.on_driver(query, read_only=True)
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

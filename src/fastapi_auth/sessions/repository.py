"""All SQL about sessions and their refresh tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Update,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from fastapi_auth.kernel.coalesced import Coalesced
from fastapi_auth.kernel.fast_path import FastPath, SQLiteStatements, Statements
from fastapi_auth.kernel.models import AuthSession, RefreshToken, User
from fastapi_auth.kernel.paging import newest_first


def _spend_if_live() -> Update:
    return (
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == bindparam("token_hash"),
            RefreshToken.spent_at.is_(None),
            AuthSession.id == RefreshToken.session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > bindparam("now"),
            User.id == AuthSession.user_id,
            AuthSession.security_stamp == User.security_stamp,
            User.is_active,
            User.is_verified,
        )
        .values(spent_at=bindparam("now"))
    )


SPEND_IF_LIVE = _spend_if_live().returning(RefreshToken.session_id)
"""Spends an unspent token of a live session (made under its user's current security
stamp) of an active, verified user, all in one conditional update: of any number of
concurrent presenters exactly one gets a row."""
ADD_REFRESH_TOKEN = insert(RefreshToken).values(
    id=bindparam("new_id"),
    session_id=bindparam("in_session"),
    token_hash=bindparam("new_hash"),
    created_at=bindparam("now"),
)
TOUCHED: dict[str, BindParameter[Any]] = {
    "last_used_at": bindparam("now"),
    "ip_address": bindparam("ip"),
    "user_agent": bindparam("agent"),
}
"""What a rotation records of the session: when, from where, on what device."""
TOUCH_SESSION = (
    update(AuthSession)
    .where(AuthSession.id == bindparam("in_session"))
    .values(TOUCHED)
    .returning(AuthSession.user_id, AuthSession.amr)
)

_SPENT = (
    _spend_if_live()
    .returning(RefreshToken.session_id, AuthSession.user_id, AuthSession.amr)
    .cte("spent")
)
ROTATE_IF_LIVE = select(_SPENT.c.session_id, _SPENT.c.user_id, _SPENT.c.amr).add_cte(
    insert(RefreshToken)
    .from_select(
        ["id", "session_id", "token_hash", "created_at"],
        select(
            bindparam("new_id", type_=RefreshToken.id.type),
            _SPENT.c.session_id,
            bindparam("new_hash", type_=RefreshToken.token_hash.type),
            bindparam("now", type_=RefreshToken.created_at.type),
        ),
    )
    .cte("added"),
    update(AuthSession).where(AuthSession.id == _SPENT.c.session_id).values(TOUCHED).cte("touched"),
)
"""`SPEND_IF_LIVE`, `ADD_REFRESH_TOKEN` and `TOUCH_SESSION` as one statement, for
PostgreSQL (data-modifying CTEs; SQLite has none)."""


@dataclass(frozen=True)
class Rotation:
    """A presented refresh token, the digest of the one to replace it, and what a rotation
    records of the session (`TOUCHED`)."""

    token_hash: str
    new_hash: str
    now: datetime
    ip_address: str | None
    user_agent: str | None

    @property
    def touched(self) -> dict[str, Any]:
        return {"now": self.now, "ip": self.ip_address, "agent": self.user_agent}


Rotated = tuple[uuid.UUID, uuid.UUID, str] | None
"""(user id, session id, the session's `amr`), or None when the token is not one that
simply rotates (unknown, spent, its session ended, its user disabled): then nothing was
written."""


class RefreshRotations:
    """The common refresh: spend the token, chain the next one to its session, mark the
    session used.

    PostgreSQL does it in one statement (`ROTATE_IF_LIVE`), atomic by itself, so it needs
    no BEGIN and COMMIT round trips either. SQLite runs the three statements in one
    transaction on `SQLiteWriter`'s thread, one transaction for all the refreshes asked
    for in the same turn of the event loop (`Coalesced`), each in turn: a token presented
    twice in one batch is spent by the first and found spent by the second.
    """

    def __init__(self, fast_path: FastPath) -> None:
        self._fast_path = fast_path
        self._batches: Coalesced[Rotation, Rotated] = Coalesced(self._rotate_on_sqlite)

    async def rotate_if_live(self, rotation: Rotation) -> Rotated:
        if self._fast_path.sqlite_writer is not None:
            return await self._batches.call(rotation)

        async def rotate(statements: Statements) -> Rotated:
            row = await statements.one(
                ROTATE_IF_LIVE,
                token_hash=rotation.token_hash,
                new_id=uuid.uuid4(),
                new_hash=rotation.new_hash,
                **rotation.touched,
            )
            return None if row is None else (row["user_id"], row["session_id"], row["amr"])

        return await self._fast_path.on_driver(rotate)

    async def _rotate_on_sqlite(self, rotations: list[Rotation]) -> list[Rotated]:
        assert self._fast_path.sqlite_writer is not None
        return await self._fast_path.sqlite_writer.transaction(
            lambda statements: [_rotate_if_live(statements, rotation) for rotation in rotations]
        )


def _rotate_if_live(statements: SQLiteStatements, rotation: Rotation) -> Rotated:
    spent = statements.one(SPEND_IF_LIVE, token_hash=rotation.token_hash, now=rotation.now)
    if spent is None:
        return None
    session_id: uuid.UUID = spent["session_id"]
    statements.run(
        ADD_REFRESH_TOKEN,
        new_id=uuid.uuid4(),
        in_session=session_id,
        new_hash=rotation.new_hash,
        now=rotation.now,
    )
    touched = statements.one(TOUCH_SESSION, in_session=session_id, **rotation.touched)
    assert touched is not None, "the session was just seen live in this transaction"
    return touched["user_id"], session_id, touched["amr"]


def _is_live(now: datetime) -> ColumnElement[bool]:
    return and_(
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > now,
        AuthSession.security_stamp == User.security_stamp,
    )


CREATE_SESSION_IF_CURRENT = insert(AuthSession).from_select(
    [
        "id",
        "user_id",
        "user_agent",
        "ip_address",
        "created_at",
        "last_used_at",
        "expires_at",
        "security_stamp",
        "amr",
    ],
    select(
        bindparam("new_session", type_=AuthSession.id.type),
        User.id,
        bindparam("agent", type_=AuthSession.user_agent.type),
        bindparam("ip", type_=AuthSession.ip_address.type),
        bindparam("now", type_=AuthSession.created_at.type),
        bindparam("now", type_=AuthSession.last_used_at.type),
        bindparam("expires", type_=AuthSession.expires_at.type),
        User.security_stamp,
        bindparam("amr", type_=AuthSession.amr.type),
    )
    .where(
        User.id == bindparam("of_user"),
        User.security_stamp == bindparam("stamp"),
        User.is_active,
        User.is_verified,
    )
    .with_for_update(key_share=True),
)
END_LEAST_RECENTLY_USED = (
    update(AuthSession)
    .where(
        AuthSession.id.in_(
            select(AuthSession.id)
            .join(User, User.id == AuthSession.user_id)
            .where(
                AuthSession.user_id == bindparam("of_user"),
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > bindparam("now"),
                AuthSession.security_stamp == User.security_stamp,
            )
            .order_by(AuthSession.last_used_at.desc(), AuthSession.id.desc())
            .offset(bindparam("keep", type_=Integer()))
            .scalar_subquery()
        )
    )
    .values(revoked_at=bindparam("ended_at"), revoked_reason=bindparam("ended_because"))
)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_if_current(
        self, auth_session: AuthSession, token_hash: str, stamp: int
    ) -> bool:
        """Inserts the session only while its user is active, verified and still at the
        security stamp the login checked the password under, in one statement: a login
        whose password a reset replaced meanwhile leaves nothing behind. On PostgreSQL the
        user's row is taken (`FOR NO KEY UPDATE`), so a credential change in flight
        either finishes first (and this inserts nothing) or waits for this one (and then
        ends it), and the logins of one account count their sessions one at a time.
        Prepared Core statements on the transaction's connection: every login runs them."""
        connection = await self.session.connection()
        inserted = await connection.execute(
            CREATE_SESSION_IF_CURRENT,
            {
                "new_session": auth_session.id,
                "of_user": auth_session.user_id,
                "agent": auth_session.user_agent,
                "ip": auth_session.ip_address,
                "now": auth_session.created_at,
                "expires": auth_session.expires_at,
                "stamp": stamp,
                "amr": auth_session.amr,
            },
        )
        if inserted.rowcount != 1:
            return False
        await connection.execute(
            ADD_REFRESH_TOKEN,
            {
                "new_id": uuid.uuid4(),
                "in_session": auth_session.id,
                "new_hash": token_hash,
                "now": auth_session.created_at,
            },
        )
        return True

    async def lock_live(
        self, session_id: uuid.UUID, user_id: uuid.UUID, stamp: int, now: datetime
    ) -> bool:
        """Whether the session is live, holding its row until the transaction ends (on
        PostgreSQL `FOR UPDATE`, which waits for a revocation in flight and then reads
        its outcome; SQLite's writes are one at a time already). Call it after the
        account's row is taken, the order every account-level write keeps."""
        found = await self.session.scalar(
            select(AuthSession.id)
            .where(
                AuthSession.id == session_id,
                AuthSession.user_id == user_id,
                AuthSession.security_stamp == stamp,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .with_for_update()
        )
        return found is not None

    async def end_least_recently_used(
        self, user_id: uuid.UUID, keep: int, reason: str, now: datetime
    ) -> None:
        """Ends the live sessions beyond the `keep` most recently used. On every login, so
        one prepared Core statement on the transaction's connection (through the ORM's
        bulk-update path it cost a login about two milliseconds of CPU)."""
        connection = await self.session.connection()
        await connection.execute(
            END_LEAST_RECENTLY_USED,
            {
                "of_user": user_id,
                "keep": keep,
                "ended_because": reason,
                "now": now,
                "ended_at": now,
            },
        )

    async def carry_forward(
        self, user_id: uuid.UUID, old: int, new: int, only: uuid.UUID | None = None
    ) -> int:
        """Moves live sessions made under the stamp `old` to `new`: the sessions a
        credential change keeps (the one that changed the password; every one, for a
        confirmed email change). How many it moved."""
        statement = (
            update(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.security_stamp == old,
                AuthSession.revoked_at.is_(None),
            )
            .values(security_stamp=new)
            .execution_options(synchronize_session=False)
        )
        if only is not None:
            statement = statement.where(AuthSession.id == only)
        result = await self.session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

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

    async def get_live(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
    ) -> AuthSession | None:
        return await self.session.scalar(
            select(AuthSession)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == session_id, AuthSession.user_id == user_id, _is_live(now))
        )

    async def list_live(
        self,
        user_id: uuid.UUID,
        now: datetime,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None = None,
    ) -> Sequence[AuthSession]:
        """Newest first, by when each began (a refresh moves `last_used_at`, so paging on
        it would skip a session used between two pages); `after` a page's last (created
        at, id)."""
        live = (
            select(AuthSession)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.user_id == user_id, _is_live(now))
        )
        page = newest_first(live, AuthSession.created_at, AuthSession.id, after, limit)
        return (await self.session.scalars(page)).all()

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

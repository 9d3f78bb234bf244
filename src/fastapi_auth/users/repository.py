"""All SQL about accounts and their email changes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.errors import EmailTaken
from fastapi_auth.kernel.models import EmailChange, MfaToken, User, utcnow


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email_key(self, key: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email_key == key))

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

    async def advance_stamp(
        self, user_id: uuid.UUID, expected: int | None, values: Mapping[str, Any]
    ) -> int | None:
        """The compare-and-set every credential change is: applies `values` and moves the
        stamp on only if it is still `expected` (None: whatever it is); the new stamp, or
        None when another change got there first. It takes the account's row lock, which
        every account-level write takes first, so they queue instead of deadlocking."""
        statement = (
            update(User)
            .where(User.id == user_id)
            .values(security_stamp=User.security_stamp + 1, updated_at=utcnow(), **values)
            .returning(User.security_stamp)
            .execution_options(synchronize_session=False)
        )
        if expected is not None:
            statement = statement.where(User.security_stamp == expected)
        stamp: int | None = await self.session.scalar(statement)
        return stamp

    async def set_pending_email(
        self, user_id: uuid.UUID, stamp: int, pending_email: str | None
    ) -> bool:
        """Only under the stamp the caller's session was made with: a session that a
        credential change has ended cannot start an email change any more."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id, User.security_stamp == stamp)
            .values(pending_email=pending_email, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def clear_pending_email(self, user_id: uuid.UUID) -> None:
        """Unconditional, and first: it takes the account's row lock (see `advance_stamp`)."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(pending_email=None)
            .execution_options(synchronize_session=False)
        )

    async def update_profile(
        self, user_id: uuid.UUID, stamp: int, values: Mapping[str, Any]
    ) -> User | None:
        """The account as it is after the change, or None if it is gone (deleted) or its
        security state moved on since the caller's session was checked."""
        updated: User | None = await self.session.scalar(
            update(User)
            .where(User.id == user_id, User.security_stamp == stamp)
            .values(updated_at=utcnow(), **values)
            .returning(User)
            .execution_options(populate_existing=True)
        )
        return updated

    async def set_app_metadata(
        self, user_id: uuid.UUID, metadata: Mapping[str, Any]
    ) -> User | None:
        """Bound to no stamp: the host application's record, not the account's security
        state, so no credential change can make it stale."""
        updated: User | None = await self.session.scalar(
            update(User)
            .where(User.id == user_id)
            .values(app_metadata=dict(metadata), updated_at=utcnow())
            .returning(User)
            .execution_options(populate_existing=True)
        )
        return updated

    async def upgrade_hash(self, user_id: uuid.UUID, old_hash: str, new_hash: str) -> None:
        """The same password under a better hash, so the stamp stays; only if nothing
        changed the hash since it was verified."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id, User.password_hash == old_hash)
            .values(password_hash=new_hash)
            .execution_options(synchronize_session=False)
        )

    async def fresh(self, user_id: uuid.UUID) -> User | None:
        """The row as it is now, even if this session loaded it before a statement
        changed it."""
        return await self.session.get(User, user_id, populate_existing=True)

    async def restore_email(self, user_id: uuid.UUID, email: str, key: str) -> None:
        """Puts back the address an email change replaced; `EmailTaken` if another account
        has it by now (nothing is changed then)."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    update(User)
                    .where(User.id == user_id)
                    .values(email=email, email_key=key, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError as error:
            raise EmailTaken() from error

    async def lock(self, user_id: uuid.UUID, stamp: int | None = None) -> int | None:
        """Takes the account's row (a write, so on SQLite the write lock too), if it exists
        and, with `stamp`, is still at it; the stamp it is at, or None. What the
        transaction does afterwards cannot be undercut: a deletion racing mail queued
        about the account waits and deletes it with the rest, or has already gone."""
        statement = (
            update(User)
            .where(User.id == user_id)
            .values(security_stamp=User.security_stamp)
            .returning(User.security_stamp)
            .execution_options(synchronize_session=False)
        )
        if stamp is not None:
            statement = statement.where(User.security_stamp == stamp)
        current: int | None = await self.session.scalar(statement)
        return current

    async def delete(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
        )

    async def end_logins_in_flight(self, user_id: uuid.UUID) -> None:
        """Deletes the account's `mfa_token`s before its row is taken: a second step holds
        its token's row and then takes the account's, so a deletion that took the account's
        row first and reached the tokens through the cascade would deadlock with it."""
        await self.session.execute(
            delete(MfaToken)
            .where(MfaToken.user_id == user_id)
            .execution_options(synchronize_session=False)
        )


class EmailChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, change: EmailChange) -> None:
        self.session.add(change)

    async def get(self, change_id: uuid.UUID) -> EmailChange | None:
        return await self.session.get(EmailChange, change_id)

    async def fresh(self, change_id: uuid.UUID) -> EmailChange | None:
        return await self.session.get(EmailChange, change_id, populate_existing=True)

    async def cancel_pending(
        self, user_id: uuid.UUID, now: datetime, except_id: uuid.UUID | None = None
    ) -> None:
        statement = (
            update(EmailChange)
            .where(
                EmailChange.user_id == user_id,
                EmailChange.confirmed_at.is_(None),
                EmailChange.cancelled_at.is_(None),
            )
            .values(cancelled_at=now)
            .execution_options(synchronize_session=False)
        )
        if except_id is not None:
            statement = statement.where(EmailChange.id != except_id)
        await self.session.execute(statement)

    async def confirm_if_pending(self, change_id: uuid.UUID, now: datetime) -> bool:
        result = await self.session.execute(
            update(EmailChange)
            .where(
                EmailChange.id == change_id,
                EmailChange.confirmed_at.is_(None),
                EmailChange.cancelled_at.is_(None),
            )
            .values(confirmed_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def cancel_if_open(
        self, change_id: uuid.UUID, now: datetime, confirmed_after: datetime
    ) -> tuple[bool, datetime | None]:
        """Cancels a change still pending, or confirmed after `confirmed_after`; whether it
        did, and when the change had been confirmed (None: it was pending)."""
        row = (
            await self.session.execute(
                update(EmailChange)
                .where(
                    EmailChange.id == change_id,
                    EmailChange.cancelled_at.is_(None),
                    or_(
                        EmailChange.confirmed_at.is_(None),
                        EmailChange.confirmed_at > confirmed_after,
                    ),
                )
                .values(cancelled_at=now)
                .returning(EmailChange.confirmed_at)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        return (False, None) if row is None else (True, row[0])

    async def cancel_later(self, user_id: uuid.UUID, than: datetime, now: datetime) -> None:
        """Every change made after a cancelled one ends too, confirmed or not, so a later
        change cannot be cancelled back to an address the owner has just taken back."""
        await self.session.execute(
            update(EmailChange)
            .where(
                EmailChange.user_id == user_id,
                EmailChange.created_at >= than,
                EmailChange.cancelled_at.is_(None),
            )
            .values(cancelled_at=now)
            .execution_options(synchronize_session=False)
        )

    async def prune(self, pending_before: datetime, confirmed_before: datetime) -> int:
        """Deletes changes that can no longer be confirmed nor cancelled, clearing the
        `pending_email` an expired one left on its account."""
        expired = and_(
            EmailChange.confirmed_at.is_(None),
            EmailChange.cancelled_at.is_(None),
            EmailChange.created_at < pending_before,
        )
        await self.session.execute(
            update(User)
            .where(User.id.in_(select(EmailChange.user_id).where(expired)))
            .values(pending_email=None)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            delete(EmailChange)
            .where(
                or_(
                    expired,
                    EmailChange.cancelled_at.is_not(None),
                    EmailChange.confirmed_at < confirmed_before,
                )
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

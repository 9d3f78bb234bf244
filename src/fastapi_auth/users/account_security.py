"""The one way an account's credentials change.

A password reset or change, and an email change confirmed or cancelled, are each one
`CredentialChange`: a compare-and-set of the account's `security_stamp` (so of two
changes racing from one state exactly one is applied, and a change asked for by a
session an earlier change ended loses), the change's own columns in the same statement,
then, in the same transaction, everything that depended on the old state ends:

- sessions: those made under the old stamp are dead by the access check itself; they are
  also marked revoked (with the reason) so the sessions list and the log say why. The
  sessions a change keeps are carried to the new stamp explicitly;
- a pending email change is cancelled (`pending_email` cleared, its links dead);
- reset links and every other link issued under the old stamp stop working;
- a login between its password check and its session insert inserts nothing
  (`SessionRepository.create_if_current`).

Every account-level write takes the account's row first (the stamp update), so two of
them queue on PostgreSQL instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.errors import DomainError, EmailTaken, InvalidAccessToken
from fastapi_auth.kernel.models import utcnow
from fastapi_auth.sessions.repository import SessionRepository
from fastapi_auth.users.repository import EmailChangeRepository, UserRepository

KEEP_EVERY_SESSION: Literal["every"] = "every"


@dataclass(frozen=True)
class CredentialChange:
    user_id: uuid.UUID
    expected_stamp: int | None
    """The stamp the change was asked for under; None only for a cancellation from the
    old address, which wins over whatever happened since."""
    reason: str
    """Why the ended sessions ended (`auth_sessions.revoked_reason`)."""
    lost: Callable[[], DomainError]
    """What the request answers when another change got there first."""
    values: dict[str, Any] = field(default_factory=dict)
    keep: uuid.UUID | Literal["every"] | None = None
    """The session that survives (the one changing its password), every live one, or none."""
    confirming_email_change: uuid.UUID | None = None


class AccountSecurity:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)
        self.email_changes = EmailChangeRepository(session)

    async def apply(self, change: CredentialChange) -> int:
        """The new stamp. Raises `change.lost()` when the stamp had moved on, `EmailTaken`
        when a new address's key is taken, and `InvalidAccessToken` when the session to
        keep ended meanwhile; then nothing of the change is applied."""
        values = {"pending_email": None, **change.values}
        if "email_key" in values:
            try:
                async with self.session.begin_nested():
                    stamp = await self.users.advance_stamp(
                        change.user_id, change.expected_stamp, values
                    )
            except IntegrityError as error:
                raise EmailTaken() from error
        else:
            stamp = await self.users.advance_stamp(change.user_id, change.expected_stamp, values)
        if stamp is None:
            raise change.lost()
        now = utcnow()
        await self.email_changes.cancel_pending(
            change.user_id, now, except_id=change.confirming_email_change
        )
        keep = change.keep
        if keep == KEEP_EVERY_SESSION:
            await self.sessions.carry_forward(change.user_id, stamp - 1, stamp)
            return stamp
        await self.sessions.revoke_all(change.user_id, change.reason, now, keep=keep)
        if keep is not None and not await self.sessions.carry_forward(
            change.user_id, stamp - 1, stamp, only=keep
        ):
            raise InvalidAccessToken()
        return stamp

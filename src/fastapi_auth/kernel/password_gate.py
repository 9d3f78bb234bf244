"""The one gate every password check goes through: login, change password, email
change, account deletion, changing a second factor.

It takes the attempt's place in the lockout and the account cap before the hash is
checked (`PasswordAttempts`), so concurrent guesses are counted before any of them is
evaluated, and gives it back when the password was right. A wrong password of a known
account is a security event, written in the request's transaction: the error each
route raises for it commits (`commit_changes`), so the event stays while nothing else
of the request does. An unknown account costs one verification like a known one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.client import ClientInfo
from fastapi_auth.kernel.errors import InvalidPassword
from fastapi_auth.kernel.models import User
from fastapi_auth.kernel.password_attempts import PasswordAttempts
from fastapi_auth.kernel.passwords import PasswordHasher, Verification
from fastapi_auth.kernel.security_log import SecurityEventType, record_event_if_account_exists


@dataclass(frozen=True)
class PasswordCheck:
    account: str
    """The account's email key: one lockout and one cap whichever route checks."""
    password: str
    password_hash: str | None
    """None for an account that does not exist (a dummy hash is verified instead)."""
    user_id: uuid.UUID | None
    client: ClientInfo
    failure_event: SecurityEventType = SecurityEventType.PASSWORD_CHECK_FAILED


class PasswordGate:
    def __init__(self, hasher: PasswordHasher, attempts: PasswordAttempts) -> None:
        self.hasher = hasher
        self.attempts = attempts

    async def check(self, session: AsyncSession, check: PasswordCheck) -> Verification:
        """Raises `RateLimited` (without hashing) while the account is locked for this
        client or its cap is reached."""
        reservation = await self.attempts.reserve(check.account, check.client.ip_address)
        if check.password_hash is None:
            await self.hasher.verify_dummy(check.password)
            verification = Verification(valid=False)
        else:
            verification = await self.hasher.verify(check.password, check.password_hash)
        if verification.valid:
            await self.attempts.release(reservation)
        elif check.user_id is not None:
            await record_event_if_account_exists(
                session, check.user_id, check.failure_event, check.client
            )
        return verification

    async def require_account_password(
        self, session: AsyncSession, user: User, password: str, client: ClientInfo
    ) -> None:
        """A signed-in account entering its password again before a change: `InvalidPassword`
        (which commits its failure's event) unless it is right."""
        verification = await self.check(
            session,
            PasswordCheck(
                account=user.email_key,
                password=password,
                password_hash=user.password_hash,
                user_id=user.id,
                client=client,
            ),
        )
        if not verification.valid:
            raise InvalidPassword()

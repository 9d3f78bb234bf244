"""The rules of a signed-in user's own account.

Every route here acts for a session, and each change it makes is bound to the security
stamp that session was checked under (`Principal.user.security_stamp`): a session that a
reset ended a moment ago cannot change the password, start an email change or delete
the account, however its request raced the reset. Every password check goes through the
gate (`PasswordGate`), before anything else of the request is written.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from fastapi_auth.addresses import email_key
from fastapi_auth.auth.breached_passwords import refuse_breached
from fastapi_auth.auth.password_gate import PasswordCheck
from fastapi_auth.auth.password_policy import password_weakness
from fastapi_auth.client import ClientInfo
from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.errors import EmailTaken, InvalidAccessToken, InvalidPassword, WeakPassword
from fastapi_auth.models import EmailChange, User, utcnow
from fastapi_auth.runtime import Runtime
from fastapi_auth.security_events.repository import SecurityEventRepository
from fastapi_auth.security_events.schemas import SecurityEventType
from fastapi_auth.security_events.service import record_event
from fastapi_auth.sessions.service import (
    REVOKED_BY_LOGOUT,
    REVOKED_BY_PASSWORD_CHANGE,
    SessionService,
)
from fastapi_auth.users.account_security import AccountSecurity, CredentialChange
from fastapi_auth.users.repository import EmailChangeRepository, UserRepository
from fastapi_auth.users.schemas import UserUpdate


def queue_password_notice(
    runtime: Runtime, session: AsyncSession, user: User, stamp: int, *, reset: bool
) -> None:
    """Every password change and reset tells the account, with a reset link under the new
    stamp for an owner who did not make it."""
    runtime.mailer.queue_to_account(
        session,
        "password_changed",
        user,
        reset=reset,
        link=runtime.links.reset_password(user.id, stamp),
    )


class UserService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.links = runtime.links
        self.users = UserRepository(session)
        self.email_changes = EmailChangeRepository(session)
        self.sessions = SessionService(session, runtime)
        self.security = AccountSecurity(session)

    async def _require_password(self, user: User, password: str | None, client: ClientInfo) -> None:
        if not password:
            raise InvalidPassword("Enter your current password to change your email address.")
        verification = await self.runtime.password_gate.check(
            self.session,
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

    async def _hold_session(self, user: User, session_id: uuid.UUID) -> None:
        """After the account's row is taken: the calling session must still be live, or a
        logout racing this request would not stop what it does."""
        if not await self.sessions.repository.lock_live(
            session_id, user.id, user.security_stamp, utcnow()
        ):
            raise InvalidAccessToken()

    async def update_profile(
        self, user: User, session_id: uuid.UUID, changes: UserUpdate, client: ClientInfo
    ) -> User:
        fields = changes.model_fields_set
        if "email" in fields and changes.email is not None:
            if email_key(changes.email) == user.email_key:
                await self._drop_pending_email_change(user)
            else:
                await self._require_password(user, changes.current_password, client)
                await self._request_email_change(user, session_id, changes.email, client)
        profile = changes.model_dump(include={"full_name", "phone_number"} & fields)
        if not profile:
            return user
        updated = await self.users.update_profile(user.id, user.security_stamp, profile)
        if updated is None:
            raise InvalidAccessToken()
        return updated

    async def _drop_pending_email_change(self, user: User) -> None:
        if not await self.users.set_pending_email(user.id, user.security_stamp, None):
            raise InvalidAccessToken()
        await self.email_changes.cancel_pending(user.id, utcnow())
        set_committed_value(user, "pending_email", None)

    async def _request_email_change(
        self, user: User, session_id: uuid.UUID, new_email: str, client: ClientInfo
    ) -> None:
        """The address changes only when the link sent to it is followed; the old address
        is told, with a link that cancels the change. Each request mails both addresses,
        so it counts against both addresses' email limit, after the password check (so a
        stolen token alone cannot use up the owner's)."""
        limiter = self.runtime.limiter
        await limiter.hit("emails_per_address", email_key(new_email))
        await limiter.hit("emails_per_address", user.email_key)
        if await self.users.email_key_taken(email_key(new_email), by_other_than=user.id):
            raise EmailTaken()
        if not await self.users.set_pending_email(user.id, user.security_stamp, new_email):
            raise InvalidAccessToken()
        await self._hold_session(user, session_id)
        now = utcnow()
        await self.email_changes.cancel_pending(user.id, now)
        change = EmailChange(
            id=uuid.uuid4(),
            user_id=user.id,
            old_email=user.email,
            new_email=new_email,
            security_stamp=user.security_stamp,
            created_at=now,
        )
        self.email_changes.add(change)
        set_committed_value(user, "pending_email", new_email)
        settings = self.runtime.settings
        self.runtime.mailer.queue(
            self.session,
            "confirm_email_change",
            new_email,
            account=user.id,
            email=new_email,
            link=self.links.confirm_email_change(change.id),
            hours=settings.verify_token_expire_hours,
        )
        self.runtime.mailer.queue_to_account(
            self.session,
            "email_change_notice",
            user,
            new_email=new_email,
            link=self.links.cancel_email_change(change.id),
            cancel_days=settings.email_change_cancel_days,
        )
        record_event(self.session, user.id, SecurityEventType.EMAIL_CHANGE_REQUESTED, client)

    async def change_password(
        self,
        user: User,
        current_session: uuid.UUID,
        current_password: str,
        new_password: str,
        client: ClientInfo,
    ) -> None:
        """Keeps the calling session (carried to the new stamp) and ends every other."""
        await self._require_password(user, current_password, client)
        reason = password_weakness(new_password, user.email)
        if reason:
            raise WeakPassword(reason)
        await refuse_breached(self.runtime.breached_passwords, new_password, "new_password")
        new_hash = await self.runtime.passwords.hash(new_password)
        stamp = await self.security.apply(
            CredentialChange(
                user_id=user.id,
                expected_stamp=user.security_stamp,
                reason=REVOKED_BY_PASSWORD_CHANGE,
                lost=InvalidAccessToken,
                values={"password_hash": new_hash},
                keep=current_session,
            )
        )
        record_event(
            self.session, user.id, SecurityEventType.PASSWORD_CHANGED, client, current_session
        )
        queue_password_notice(self.runtime, self.session, user, stamp, reset=False)

    async def logout_all(self, user: User, keep: uuid.UUID | None, client: ClientInfo) -> None:
        """Ends the sessions and a pending email change, but moves no stamp: reset links
        survive it, so a stolen session calling it in a loop cannot keep the owner from
        recovering the account."""
        await self.users.clear_pending_email(user.id)
        await self.email_changes.cancel_pending(user.id, utcnow())
        await self.sessions.revoke_all(user.id, REVOKED_BY_LOGOUT, client, keep, log_each=True)

    async def delete_account(
        self, user: User, session_id: uuid.UUID, password: str, client: ClientInfo
    ) -> None:
        """Personal data goes with the row and with every email queued or sent to the
        account; the security log keeps only event types and times under the account's
        opaque id, its IPs and user agents erased. Only the goodbye email is left to send.
        Only while the account is at the stamp its session was checked under and that
        session is still live; its sessions go with the row (a cascade), and a login racing
        the deletion inserts none."""
        await self._require_password(user, password, client)
        if await self.users.lock(user.id, user.security_stamp) is None:
            raise InvalidAccessToken()
        await self._hold_session(user, session_id)
        await self.users.delete(user.id)
        await OutboxRepository(self.session).delete_for_account(user.id)
        self.runtime.mailer.queue(
            self.session,
            "account_deleted",
            user.email,
            account=None,
            full_name=user.full_name,
            email=user.email,
        )
        await SecurityEventRepository(self.session).erase_personal_data(user.id)
        record_event(self.session, user.id, SecurityEventType.ACCOUNT_DELETED, None)

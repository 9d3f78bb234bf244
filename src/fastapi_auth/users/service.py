"""The rules of a signed-in user's own account.

Every route here acts for a session, and each change it makes is bound to the security
stamp that session was checked under (`Principal.user.security_stamp`): a session that a
reset ended a moment ago cannot change the password, start an email change or delete
the account, however its request raced the reset. Every password check goes through the
gate (`PasswordGate`), before anything else of the request is written.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from fastapi_auth.email.service import Mailer
from fastapi_auth.kernel.addresses import email_key
from fastapi_auth.kernel.client import ClientInfo
from fastapi_auth.kernel.errors import (
    EmailTaken,
    InvalidAccessToken,
    InvalidMetadata,
    InvalidPassword,
    NotFound,
)
from fastapi_auth.kernel.links import Links
from fastapi_auth.kernel.models import EmailChange, User, utcnow
from fastapi_auth.kernel.password_gate import PasswordGate
from fastapi_auth.kernel.password_policy import PasswordRules
from fastapi_auth.kernel.passwords import PasswordHasher
from fastapi_auth.kernel.rate_limits import RateLimiter
from fastapi_auth.kernel.security_log import SecurityEventType, record_event
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.security_events.service import SecurityEventService
from fastapi_auth.sessions.service import (
    REVOKED_BY_LOGOUT,
    REVOKED_BY_PASSWORD_CHANGE,
    SessionService,
)
from fastapi_auth.users.account_security import AccountSecurity, CredentialChange
from fastapi_auth.users.repository import EmailChangeRepository, UserRepository
from fastapi_auth.users.schemas import APP_METADATA_MAX_BYTES, UserUpdate, metadata_problem


def queue_password_notice(
    mailer: Mailer, links: Links, session: AsyncSession, user: User, stamp: int, *, reset: bool
) -> None:
    """Every password change and reset tells the account, with a reset link under the new
    stamp for an owner who did not make it."""
    mailer.queue_to_account(
        session,
        "password_changed",
        user,
        reset=reset,
        link=links.reset_password(user.id, stamp),
    )


class UserService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        sessions: SessionService,
        security_events: SecurityEventService,
        password_gate: PasswordGate,
        passwords: PasswordHasher,
        password_rules: PasswordRules,
        limiter: RateLimiter,
        mailer: Mailer,
        links: Links,
        settings: Settings,
    ) -> None:
        self.session = session
        self.sessions = sessions
        self.security_events = security_events
        self.password_gate = password_gate
        self.passwords = passwords
        self.password_rules = password_rules
        self.limiter = limiter
        self.mailer = mailer
        self.links = links
        self.settings = settings
        self.users = UserRepository(session)
        self.email_changes = EmailChangeRepository(session)
        self.security = AccountSecurity(session)

    async def _require_password(self, user: User, password: str | None, client: ClientInfo) -> None:
        if not password:
            raise InvalidPassword("Enter your current password to change your email address.")
        await self.password_gate.require_account_password(self.session, user, password, client)

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
        profile = changes.model_dump(
            include={"full_name", "phone_number", "user_metadata"} & fields
        )
        if not profile:
            return user
        updated = await self.users.update_profile(user.id, user.security_stamp, profile)
        if updated is None:
            raise InvalidAccessToken()
        return updated

    async def set_app_metadata(self, user_id: uuid.UUID, metadata: dict[str, Any]) -> User:
        """For the host application's code: the one way `app_metadata` is written, since no
        route of the account's own takes it. Replaced whole, in the caller's transaction
        (the caller commits). At most `APP_METADATA_MAX_BYTES`: `InvalidMetadata` beyond
        that or for anything but a JSON object; `NotFound` for an unknown account."""
        problem = metadata_problem(metadata, APP_METADATA_MAX_BYTES)
        if problem:
            raise InvalidMetadata(f"app_metadata {problem}")
        updated = await self.users.set_app_metadata(user_id, metadata)
        if updated is None:
            raise NotFound("No account has that id.")
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
        limiter = self.limiter
        await limiter.hit("emails_per_address", email_key(new_email))
        await limiter.hit("emails_per_address", user.email_key)
        if await self.users.email_key_taken(email_key(new_email), by_other_than=user.id):
            raise EmailTaken()
        if not await self.users.set_pending_email(user.id, user.security_stamp, new_email):
            raise InvalidAccessToken()
        await self.sessions.hold_live(user, session_id)
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
        settings = self.settings
        self.mailer.queue(
            self.session,
            "confirm_email_change",
            new_email,
            account=user.id,
            email=new_email,
            link=self.links.confirm_email_change(change.id),
            hours=settings.verify_token_expire_hours,
        )
        self.mailer.queue_to_account(
            self.session,
            "email_change_notice",
            user,
            new_email=new_email,
            link=self.links.cancel_email_change(change.id),
            cancel_days=settings.email_change_cancel_days,
        )
        record_event(
            self.session,
            user.id,
            SecurityEventType.EMAIL_CHANGE_REQUESTED,
            client,
            email=user.email,
        )

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
        await self.password_rules.refuse_weak(new_password, email=user.email)
        new_hash = await self.passwords.hash(new_password)
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
            self.session,
            user.id,
            SecurityEventType.PASSWORD_CHANGED,
            client,
            current_session,
            email=user.email,
        )
        queue_password_notice(self.mailer, self.links, self.session, user, stamp, reset=False)

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
        await self.users.end_logins_in_flight(user.id)
        if await self.users.lock(user.id, user.security_stamp) is None:
            raise InvalidAccessToken()
        await self.sessions.hold_live(user, session_id)
        await self.users.delete(user.id)
        await self.mailer.forget_account(self.session, user.id)
        self.mailer.queue(
            self.session,
            "account_deleted",
            user.email,
            account=None,
            full_name=user.full_name,
            email=user.email,
        )
        await self.security_events.erase_personal_data(user.id)
        record_event(
            self.session, user.id, SecurityEventType.ACCOUNT_DELETED, None, email=user.email
        )

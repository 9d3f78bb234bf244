"""The rules of a signed-in user's own account."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.auth.breached_passwords import refuse_breached
from fastapi_auth.auth.password_policy import password_weakness
from fastapi_auth.auth.service import AuthService
from fastapi_auth.client import ClientInfo
from fastapi_auth.email.repository import OutboxRepository
from fastapi_auth.errors import EmailTaken, InvalidPassword, WeakPassword
from fastapi_auth.models import User
from fastapi_auth.runtime import Runtime
from fastapi_auth.security_events.repository import SecurityEventRepository
from fastapi_auth.security_events.schemas import SecurityEventType
from fastapi_auth.security_events.service import record_event
from fastapi_auth.sessions.service import (
    REVOKED_BY_DELETION,
    REVOKED_BY_PASSWORD_CHANGE,
    SessionService,
)
from fastapi_auth.users.repository import UserRepository
from fastapi_auth.users.schemas import UserUpdate, email_key


class UserService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.users = UserRepository(session)
        self.sessions = SessionService(session, runtime)

    def _attach(self, user: User) -> None:
        """The signed-in user arrives detached (the access check reads it outside the
        request's transaction); joining this session makes its changes part of it."""
        self.session.add(user)

    async def update_profile(self, user: User, changes: UserUpdate, client: ClientInfo) -> User:
        self._attach(user)
        fields = changes.model_fields_set
        if "email" in fields and changes.email is not None:
            await self._request_email_change(user, changes.email, client)
        if "full_name" in fields:
            user.full_name = changes.full_name
        if "phone_number" in fields:
            user.phone_number = changes.phone_number
        await self.session.flush()
        return user

    async def _request_email_change(self, user: User, new_email: str, client: ClientInfo) -> None:
        """The address changes only when the link sent to it is followed; the old address
        is told, so a hijacked session cannot quietly take the account."""
        key = email_key(new_email)
        if key == user.email_key:
            user.pending_email = None
            return
        if await self.users.email_key_taken(key, by_other_than=user.id):
            raise EmailTaken()
        user.pending_email = new_email
        links = AuthService(self.session, self.runtime)
        mailer = self.runtime.mailer
        mailer.queue(
            self.session,
            "confirm_email_change",
            new_email,
            full_name=user.full_name,
            email=new_email,
            link=links.email_change_link(user, new_email),
            hours=self.runtime.settings.verify_token_expire_hours,
        )
        mailer.queue(
            self.session,
            "email_change_notice",
            user.email,
            full_name=user.full_name,
            email=user.email,
            new_email=new_email,
        )
        record_event(self.session, user.id, SecurityEventType.EMAIL_CHANGE_REQUESTED, client)

    async def _require_password(self, user: User, password: str) -> None:
        verification = await self.runtime.passwords.verify(password, user.password_hash)
        if not verification.valid:
            raise InvalidPassword()

    async def change_password(
        self,
        user: User,
        current_session: uuid.UUID,
        current_password: str,
        new_password: str,
        client: ClientInfo,
    ) -> None:
        self._attach(user)
        await self._require_password(user, current_password)
        reason = password_weakness(new_password, user.email)
        if reason:
            raise WeakPassword(reason)
        await refuse_breached(self.runtime.breached_passwords, new_password, "new_password")
        user.password_hash = await self.runtime.passwords.hash(new_password)
        await self.sessions.revoke_all(
            user.id, REVOKED_BY_PASSWORD_CHANGE, client, keep=current_session
        )
        record_event(
            self.session, user.id, SecurityEventType.PASSWORD_CHANGED, client, current_session
        )

    async def delete_account(self, user: User, password: str, client: ClientInfo) -> None:
        """Personal data goes with the row and with every email queued or sent to the
        account; the security log keeps only event types and times under the account's
        opaque id, its IPs and user agents erased. Only the goodbye email is left to send."""
        await self._require_password(user, password)
        await self.sessions.revoke_all(user.id, REVOKED_BY_DELETION, client)
        addresses = [user.email, *([user.pending_email] if user.pending_email else [])]
        await OutboxRepository(self.session).delete_addressed_to(addresses)
        self.runtime.mailer.queue(
            self.session,
            "account_deleted",
            user.email,
            full_name=user.full_name,
            email=user.email,
        )
        await SecurityEventRepository(self.session).erase_personal_data(user.id)
        record_event(self.session, user.id, SecurityEventType.ACCOUNT_DELETED, None)
        await self.users.delete(user)

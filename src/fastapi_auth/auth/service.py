"""The rules of signing up, verifying, logging in and recovering an account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.auth.breached_passwords import refuse_breached
from fastapi_auth.auth.password_policy import password_weakness
from fastapi_auth.auth.schemas import RegisterRequest
from fastapi_auth.auth.tokens import (
    CHANGE_EMAIL_SALT,
    RESET_PASSWORD_SALT,
    VERIFY_EMAIL_SALT,
    TokenError,
)
from fastapi_auth.client import ClientInfo
from fastapi_auth.errors import (
    AccountDisabled,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidLinkToken,
    WeakPassword,
)
from fastapi_auth.models import User
from fastapi_auth.runtime import Runtime
from fastapi_auth.security_events.schemas import SecurityEventType
from fastapi_auth.security_events.service import record_event
from fastapi_auth.sessions.schemas import TokenPair
from fastapi_auth.sessions.service import REVOKED_BY_PASSWORD_RESET, SessionService
from fastapi_auth.users.repository import UserRepository
from fastapi_auth.users.schemas import email_key


@dataclass(frozen=True)
class VerifiedEmail:
    email: str
    kind: Literal["registration", "email_change"]


class AuthService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.users = UserRepository(session)
        self.sessions = SessionService(session, runtime)

    # -- emailed links -------------------------------------------------------------------

    def _link(self, path: str, token: str) -> str:
        return f"{self.runtime.settings.frontend_url.rstrip('/')}{path}?token={token}"

    def verification_link(self, user: User) -> str:
        """Bound to the address and the password hash: a later registration of the same
        unverified address (which replaces the hash) kills the earlier link."""
        codec = self.runtime.link_tokens
        token = codec.dump(
            {
                "uid": str(user.id),
                "email": user.email,
                "fp": codec.password_fingerprint(user.password_hash),
            },
            VERIFY_EMAIL_SALT,
        )
        return self._link("/auth/verify-email", token)

    def email_change_link(self, user: User, new_email: str) -> str:
        token = self.runtime.link_tokens.dump(
            {"uid": str(user.id), "new_email": new_email}, CHANGE_EMAIL_SALT
        )
        return self._link("/auth/verify-email", token)

    def reset_link(self, user: User) -> str:
        codec = self.runtime.link_tokens
        token = codec.dump(
            {"uid": str(user.id), "fp": codec.password_fingerprint(user.password_hash)},
            RESET_PASSWORD_SALT,
        )
        return self._link("/reset-password", token)

    def queue_verification(self, user: User) -> None:
        self.runtime.mailer.queue(
            self.session,
            "verify_email",
            user.email,
            full_name=user.full_name,
            email=user.email,
            link=self.verification_link(user),
            hours=self.runtime.settings.verify_token_expire_hours,
        )

    def queue_reset(self, user: User) -> None:
        self.runtime.mailer.queue(
            self.session,
            "reset_password",
            user.email,
            full_name=user.full_name,
            email=user.email,
            link=self.reset_link(user),
            minutes=self.runtime.settings.reset_token_expire_minutes,
        )

    # -- registration and verification ---------------------------------------------------

    async def register(self, request: RegisterRequest) -> None:
        """Same work, same answer, whether or not the address has an account: the hash is
        computed first in every case and every branch queues exactly one email."""
        key = email_key(request.email)
        await refuse_breached(self.runtime.breached_passwords, request.password, "password")
        await self.runtime.limiter.hit("emails_per_address", key)
        password_hash = await self.runtime.passwords.hash(request.password)
        user = User(
            id=uuid.uuid4(),
            email=request.email,
            email_key=key,
            password_hash=password_hash,
            full_name=request.full_name,
            phone_number=request.phone_number,
        )
        existing = await self.users.get_by_email_key(key)
        if existing is None and await self.users.insert_if_email_free(user):
            self.queue_verification(user)
            return
        existing = existing or await self.users.get_by_email_key(key)
        if existing is None:
            return
        if existing.is_verified:
            self.runtime.mailer.queue(
                self.session,
                "register_attempt",
                existing.email,
                full_name=existing.full_name,
                email=existing.email,
                link=self.reset_link(existing),
            )
            return
        existing.password_hash = password_hash
        existing.full_name = request.full_name
        existing.phone_number = request.phone_number
        self.queue_verification(existing)

    async def resend_verification(self, email: str) -> None:
        await self.runtime.limiter.hit("emails_per_address", email_key(email))
        user = await self.users.get_by_email_key(email_key(email))
        if user is not None and user.is_active and not user.is_verified:
            self.queue_verification(user)

    async def verify_email(self, token: str, client: ClientInfo) -> VerifiedEmail:
        codec = self.runtime.link_tokens
        try:
            payload = codec.load(token, VERIFY_EMAIL_SALT, codec.verify_max_age)
        except TokenError:
            return await self._confirm_email_change(token, client)
        user = await self._user_from(payload)
        if (
            user is None
            or user.is_verified
            or user.email != payload.get("email")
            or codec.password_fingerprint(user.password_hash) != payload.get("fp")
        ):
            raise InvalidLinkToken()
        user.is_verified = True
        record_event(self.session, user.id, SecurityEventType.EMAIL_VERIFIED, client)
        return VerifiedEmail(email=user.email, kind="registration")

    async def _confirm_email_change(self, token: str, client: ClientInfo) -> VerifiedEmail:
        codec = self.runtime.link_tokens
        try:
            payload = codec.load(token, CHANGE_EMAIL_SALT, codec.verify_max_age)
        except TokenError as error:
            raise InvalidLinkToken() from error
        user = await self._user_from(payload)
        new_email = payload.get("new_email")
        if user is None or not isinstance(new_email, str) or user.pending_email != new_email:
            raise InvalidLinkToken()
        if not await self.users.apply_email_change(user, new_email, email_key(new_email)):
            raise EmailTaken()
        record_event(self.session, user.id, SecurityEventType.EMAIL_CHANGE_CONFIRMED, client)
        return VerifiedEmail(email=new_email, kind="email_change")

    async def _user_from(self, payload: dict[str, object]) -> User | None:
        try:
            return await self.users.get(uuid.UUID(str(payload.get("uid"))))
        except ValueError:
            return None

    # -- login ----------------------------------------------------------------------------

    async def authenticate(self, email: str, password: str, client: ClientInfo) -> User:
        """One password verification whether or not the account exists."""
        passwords, limiter = self.runtime.passwords, self.runtime.limiter
        key = email_key(email)
        await limiter.ensure_not_locked(key, client.ip_address)
        user = await self.users.get_detached_by_email_key(key)
        if user is None:
            await passwords.verify_dummy(password)
            await limiter.record_failed_login(key, client.ip_address)
            raise InvalidCredentials()
        verification = await passwords.verify(password, user.password_hash)
        self.session.add(user)
        if not verification.valid:
            await limiter.record_failed_login(key, client.ip_address)
            record_event(self.session, user.id, SecurityEventType.LOGIN_FAILED, client)
            raise InvalidCredentials()
        await limiter.clear_failed_logins(key, client.ip_address)
        if verification.upgraded_hash is not None:
            user.password_hash = verification.upgraded_hash
        if not user.is_active:
            raise AccountDisabled()
        if not user.is_verified:
            raise EmailNotVerified()
        return user

    async def login(self, email: str, password: str, client: ClientInfo) -> TokenPair:
        user = await self.authenticate(email, password, client)
        auth_session, tokens = await self.sessions.start_session(user, client)
        record_event(
            self.session, user.id, SecurityEventType.LOGIN_SUCCEEDED, client, auth_session.id
        )
        return tokens

    # -- password recovery ----------------------------------------------------------------

    async def forgot_password(self, email: str) -> None:
        await self.runtime.limiter.hit("emails_per_address", email_key(email))
        user = await self.users.get_by_email_key(email_key(email))
        if user is not None and user.is_active:
            self.queue_reset(user)

    async def reset_password(self, token: str, new_password: str, client: ClientInfo) -> User:
        codec = self.runtime.link_tokens
        try:
            payload = codec.load(token, RESET_PASSWORD_SALT, codec.reset_max_age)
        except TokenError as error:
            raise InvalidLinkToken() from error
        user = await self._user_from(payload)
        if user is None or codec.password_fingerprint(user.password_hash) != payload.get("fp"):
            raise InvalidLinkToken()
        reason = password_weakness(new_password, user.email)
        if reason:
            raise WeakPassword(reason)
        await refuse_breached(self.runtime.breached_passwords, new_password, "new_password")
        new_hash = await self.runtime.passwords.hash(new_password)
        if not await self.users.replace_password_hash(user, user.password_hash, new_hash):
            raise InvalidLinkToken()
        user.is_verified = True
        await self.sessions.revoke_all(user.id, REVOKED_BY_PASSWORD_RESET, client)
        await self.runtime.limiter.lift_lockouts(user.email_key)
        record_event(self.session, user.id, SecurityEventType.PASSWORD_RESET, client)
        return user

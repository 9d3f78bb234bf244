"""The rules of signing up, verifying, logging in and recovering an account.

Registrations are records of their own until their link is followed: each keeps the
password and profile it was made with, and its link activates exactly that one, so
whoever registers an address first cannot take over the account its owner verifies,
and a later registration cannot change what the owner's earlier link activates. The
first registration of an address to be verified becomes the account; the others of
that address are deleted then (their links answer 400). Someone who lost the email
asks again (`resend-verification`, or `forgot-password`): since nothing tells which of
several registrations was theirs, that link lets them choose the password instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeGuard

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.email.service import Mailer
from fastapi_auth.flows.repository import RegistrationRepository
from fastapi_auth.flows.schemas import RegisterRequest
from fastapi_auth.kernel.addresses import email_key
from fastapi_auth.kernel.client import ClientInfo
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.errors import (
    AccountDisabled,
    EmailNotVerified,
    InvalidCredentials,
    InvalidLinkToken,
    MfaRequired,
)
from fastapi_auth.kernel.links import ActivationLink, Links
from fastapi_auth.kernel.models import EmailChange, Registration, User, utcnow
from fastapi_auth.kernel.password_attempts import PasswordAttempts
from fastapi_auth.kernel.password_gate import PasswordCheck, PasswordGate
from fastapi_auth.kernel.password_policy import PasswordRules
from fastapi_auth.kernel.passwords import PasswordHasher
from fastapi_auth.kernel.rate_limits import RateLimiter
from fastapi_auth.kernel.security_log import SecurityEventType, announce, record_event
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.kernel.tokens import PASSWORD_ONLY
from fastapi_auth.mfa.service import MfaService, PasskeyCeremony
from fastapi_auth.sessions.schemas import TokenPair
from fastapi_auth.sessions.service import (
    REVOKED_BY_EMAIL_CHANGE_CANCELLED,
    REVOKED_BY_PASSWORD_RESET,
    SessionService,
)
from fastapi_auth.users.account_security import (
    KEEP_EVERY_SESSION,
    AccountSecurity,
    CredentialChange,
)
from fastapi_auth.users.repository import EmailChangeRepository, UserRepository
from fastapi_auth.users.service import queue_password_notice


@dataclass(frozen=True)
class VerifiedEmail:
    email: str
    kind: Literal["registration", "email_change"]


@dataclass(frozen=True)
class CancelledEmailChange:
    email: str
    """The account's address now: the one it had before the change."""


RACING_USE = timedelta(seconds=2)
PASSKEY_ONLY = ("hwk",)


def _moment(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


class AuthService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        database: Database,
        sessions: SessionService,
        password_gate: PasswordGate,
        passwords: PasswordHasher,
        password_rules: PasswordRules,
        attempts: PasswordAttempts,
        limiter: RateLimiter,
        mailer: Mailer,
        links: Links,
        settings: Settings,
        mfa: MfaService,
    ) -> None:
        self.session = session
        self.database = database
        self.sessions = sessions
        self.mfa = mfa
        self.password_gate = password_gate
        self.passwords = passwords
        self.password_rules = password_rules
        self.attempts = attempts
        self.limiter = limiter
        self.mailer = mailer
        self.links = links
        self.settings = settings
        self.users = UserRepository(session)
        self.registrations = RegistrationRepository(session)
        self.email_changes = EmailChangeRepository(session)
        self.security = AccountSecurity(session)

    # -- emails ---------------------------------------------------------------------------

    def queue_reset(self, user: User, stamp: int) -> None:
        self.mailer.queue_to_account(
            self.session,
            "reset_password",
            user,
            link=self.links.reset_password(user.id, stamp),
            minutes=self.settings.reset_token_expire_minutes,
        )

    async def _queue_activation(self, key: str, now: datetime) -> None:
        """For an address with registrations but no account: a link to choose the password,
        which none of the registrations' own texts or passwords reach."""
        registration = await self.registrations.newest_live(key, now)
        if registration is None:
            return
        lifetime = timedelta(minutes=self.settings.reset_token_expire_minutes)
        await self.registrations.keep_until(registration.id, now + lifetime)
        self.mailer.queue(
            self.session,
            "activate_account",
            registration.email,
            account=registration.id,
            email=registration.email,
            link=self.links.activate(registration.id),
            minutes=self.settings.reset_token_expire_minutes,
        )

    # -- registration and verification ---------------------------------------------------

    async def register(self, request: RegisterRequest) -> None:
        """Same work, same answer, whether or not the address has an account: the hash is
        computed first in every case and every branch queues exactly one email. The
        verification email carries nothing the registrant wrote."""
        key = email_key(request.email)
        await self.password_rules.refuse_weak(
            request.password, email=request.email, field="password"
        )
        await self.limiter.hit("emails_per_address", key)
        password_hash = await self.passwords.hash(request.password)
        existing = await self.users.get_by_email_key(key)
        if existing is not None:
            stamp = await self.users.lock(existing.id)
            if stamp is None:
                return
            self.mailer.queue_to_account(
                self.session,
                "register_attempt",
                existing,
                link=self.links.reset_password(existing.id, stamp),
            )
            return
        now = utcnow()
        others_pending = await self.registrations.count_live(key, now)
        registration = Registration(
            id=uuid.uuid4(),
            email=request.email,
            email_key=key,
            password_hash=password_hash,
            full_name=request.full_name,
            phone_number=request.phone_number,
            created_at=now,
            expires_at=now + timedelta(hours=self.settings.verify_token_expire_hours),
        )
        self.registrations.add(registration)
        announce(self.session, SecurityEventType.REGISTERED, None, email=registration.email)
        self.mailer.queue(
            self.session,
            "verify_email",
            registration.email,
            account=registration.id,
            email=registration.email,
            link=self.links.verify_registration(registration.id),
            hours=self.settings.verify_token_expire_hours,
            registered_at=_moment(now),
            others_pending=others_pending > 0,
        )

    async def resend_verification(self, email: str) -> None:
        key = email_key(email)
        await self.limiter.hit("emails_per_address", key)
        if await self.users.get_by_email_key(key) is None:
            await self._queue_activation(key, utcnow())

    async def check_verification_link(self, token: str) -> None:
        """Whether a link would still act, changing nothing: for the page a browser's GET
        shows before its button is pressed."""
        link = self.links.read_verification(token)
        if link.kind == "registration":
            if await self.registrations.get_live(link.record_id, utcnow()) is None:
                raise InvalidLinkToken()
        elif not self._is_pending(await self.email_changes.get(link.record_id)):
            raise InvalidLinkToken()

    async def verify_email(self, token: str, client: ClientInfo) -> VerifiedEmail:
        """Of concurrent uses of one link exactly one acts; the others (a double click, a
        scanner racing the owner: uses within `RACING_USE` of the one that acted) get
        the same answer and write nothing. A use after that is a spent link (400)."""
        racing_since = utcnow() - RACING_USE
        link = self.links.read_verification(token)
        if link.kind == "email_change":
            return await self._confirm_email_change(link.record_id, racing_since, client)
        registration = await self.registrations.get_live(link.record_id, utcnow())
        if registration is not None:
            await self._activate(registration, registration.password_hash, client)
            return VerifiedEmail(email=registration.email, kind="registration")
        activated = await self.users.fresh(link.record_id)
        if activated is None or activated.created_at < racing_since:
            raise InvalidLinkToken()
        return VerifiedEmail(email=activated.email, kind="registration")

    async def _activate(
        self, registration: Registration, password_hash: str, client: ClientInfo
    ) -> None:
        """The registration becomes the account (its id too), unless the address has one
        already: then the link is spent, but for a request that raced the one that just
        activated this very registration with its own password, which gets the same
        answer and writes nothing. The profile comes along only with that password."""
        own = password_hash == registration.password_hash
        user = User(
            id=registration.id,
            email=registration.email,
            email_key=registration.email_key,
            password_hash=password_hash,
            full_name=registration.full_name if own else None,
            phone_number=registration.phone_number if own else None,
            is_verified=True,
        )
        if not await self.users.insert_if_email_free(user):
            if own and await self.users.fresh(registration.id) is not None:
                return
            raise InvalidLinkToken()
        await self.registrations.delete_for(registration.email_key)
        record_event(
            self.session, user.id, SecurityEventType.EMAIL_VERIFIED, client, email=user.email
        )

    async def _confirm_email_change(
        self, change_id: uuid.UUID, racing_since: datetime, client: ClientInfo
    ) -> VerifiedEmail:
        """Bound to the security stamp the change was asked for under: a reset or password
        change since (which also cancelled it) leaves the link dead. The sessions the
        account has stay: they were made by whoever knows its password."""
        change = await self.email_changes.get(change_id)
        if change is not None and change.confirmed_since(racing_since):
            return VerifiedEmail(email=change.new_email, kind="email_change")
        if not self._is_pending(change):
            raise InvalidLinkToken()
        key = email_key(change.new_email)
        try:
            await self.security.apply(
                CredentialChange(
                    user_id=change.user_id,
                    expected_stamp=change.security_stamp,
                    reason="email_changed",
                    lost=InvalidLinkToken,
                    values={"email": change.new_email, "email_key": key, "is_verified": True},
                    keep=KEEP_EVERY_SESSION,
                    confirming_email_change=change.id,
                )
            )
        except InvalidLinkToken:
            now = await self.email_changes.fresh(change.id)
            if now is None or not now.confirmed_since(racing_since):
                raise
            return VerifiedEmail(email=change.new_email, kind="email_change")
        if not await self.email_changes.confirm_if_pending(change.id, utcnow()):
            raise InvalidLinkToken()
        await self.registrations.delete_for(key)
        record_event(
            self.session,
            change.user_id,
            SecurityEventType.EMAIL_CHANGE_CONFIRMED,
            client,
            email=change.new_email,
        )
        return VerifiedEmail(email=change.new_email, kind="email_change")

    def _is_pending(self, change: EmailChange | None) -> TypeGuard[EmailChange]:
        lifetime = timedelta(hours=self.settings.verify_token_expire_hours)
        return change is not None and change.is_pending(utcnow(), lifetime)

    async def check_cancel_link(self, token: str) -> None:
        change = await self.email_changes.get(self.links.read_cancel_email_change(token))
        window = timedelta(days=self.settings.email_change_cancel_days)
        if change is None or not change.is_cancellable(utcnow(), window):
            raise InvalidLinkToken()

    async def cancel_email_change(self, token: str, client: ClientInfo) -> CancelledEmailChange:
        """From the old address: wins over whatever happened since (no expected stamp),
        puts the old address back if the change was confirmed, ends every session, and
        ends every later change too, so none of them can be cancelled back."""
        change = await self.email_changes.get(self.links.read_cancel_email_change(token))
        if change is None:
            raise InvalidLinkToken()
        await self.security.apply(
            CredentialChange(
                user_id=change.user_id,
                expected_stamp=None,
                reason=REVOKED_BY_EMAIL_CHANGE_CANCELLED,
                lost=InvalidLinkToken,
                confirming_email_change=change.id,
            )
        )
        now = utcnow()
        days = self.settings.email_change_cancel_days
        cancelled, confirmed_at = await self.email_changes.cancel_if_open(
            change.id, now, now - timedelta(days=days)
        )
        if not cancelled:
            raise InvalidLinkToken()
        await self.email_changes.cancel_later(change.user_id, change.created_at, now)
        if confirmed_at is not None:
            old_key = email_key(change.old_email)
            await self.users.restore_email(change.user_id, change.old_email, old_key)
        user = await self.users.fresh(change.user_id)
        assert user is not None, "its row was locked by the change above"
        record_event(
            self.session,
            user.id,
            SecurityEventType.EMAIL_CHANGE_CANCELLED,
            client,
            email=user.email,
        )
        self.mailer.queue_to_account(
            self.session,
            "email_change_cancelled",
            user,
            new_email=change.new_email,
        )
        return CancelledEmailChange(email=user.email)

    # -- login ----------------------------------------------------------------------------

    async def login(self, email: str, password: str, client: ClientInfo) -> TokenPair:
        """One password verification whether or not the account exists, through the gate;
        the session is inserted only under the security stamp the password was checked
        under (`SessionService.start_session`). The account is read beside the request's
        transaction (`Database.side_read`): the check takes tens of milliseconds (more
        while other logins queue for a hashing thread), and the request's transaction,
        with its pooled connection, is not held open across it."""
        key = email_key(email)
        async with self.database.side_read() as reader:
            user = await UserRepository(reader).get_by_email_key(key)
            registration = (
                None if user else await RegistrationRepository(reader).newest_live(key, utcnow())
            )
        password_hash = (
            user.password_hash
            if user is not None
            else registration.password_hash
            if registration is not None
            else None
        )
        verification = await self.password_gate.check(
            self.session,
            PasswordCheck(
                account=key,
                password=password,
                password_hash=password_hash,
                user_id=user.id if user else None,
                client=client,
                failure_event=SecurityEventType.LOGIN_FAILED,
            ),
        )
        if not verification.valid:
            raise InvalidCredentials()
        if user is None:
            raise EmailNotVerified()
        if verification.upgraded_hash is not None:
            await self.users.upgrade_hash(user.id, user.password_hash, verification.upgraded_hash)
        if not user.is_active:
            raise AccountDisabled()
        if not user.is_verified:
            raise EmailNotVerified()
        if user.mfa_enabled:
            raise MfaRequired(await self.mfa.begin_login(user), await self.mfa.methods(user))
        return await self._signed_in(user, user.security_stamp, client, PASSWORD_ONLY)

    async def complete_mfa_login(
        self,
        mfa_token: str,
        client: ClientInfo,
        *,
        code: str | None = None,
        credential: dict[str, Any] | None = None,
    ) -> TokenPair:
        """The second step, with a code or a passkey's assertion: the session is made only
        now, and only while the account is at the stamp the password was checked under."""
        if credential is not None:
            passed = await self.mfa.complete_with_passkey(mfa_token, credential, client)
        else:
            passed = await self.mfa.complete_with_code(mfa_token, code or "", client)
        return await self._signed_in(passed.user, passed.stamp, client, ("pwd", passed.factor))

    async def second_step_passkey_options(self, mfa_token: str) -> PasskeyCeremony:
        return await self.mfa.second_step_options(mfa_token)

    def passkey_login_options(self) -> PasskeyCeremony:
        return self.mfa.usernameless_options()

    async def login_with_passkey(
        self, challenge_id: uuid.UUID, credential: dict[str, Any], client: ClientInfo
    ) -> TokenPair:
        """A passkey is both factors (`amr` `["hwk"]`); the session is made under the stamp
        the account is at, its row taken by the check."""
        done = await self.mfa.login_with_passkey(challenge_id, credential, client)
        return await self._signed_in(done.user, done.stamp, client, PASSKEY_ONLY)

    async def _signed_in(
        self, user: User, stamp: int, client: ClientInfo, amr: tuple[str, ...]
    ) -> TokenPair:
        auth_session, tokens = await self.sessions.start_session(user, stamp, client, amr)
        record_event(
            self.session,
            user.id,
            SecurityEventType.LOGIN_SUCCEEDED,
            client,
            auth_session.id,
            email=user.email,
        )
        return tokens

    # -- password recovery ----------------------------------------------------------------

    async def forgot_password(self, email: str) -> None:
        key = email_key(email)
        await self.limiter.hit("emails_per_address", key)
        user = await self.users.get_by_email_key(key)
        if user is None:
            await self._queue_activation(key, utcnow())
        elif user.is_active and (stamp := await self.users.lock(user.id)) is not None:
            self.queue_reset(user, stamp)

    async def reset_password(self, token: str, new_password: str, client: ClientInfo) -> None:
        """Bound to the security stamp the link was issued under: the reset applies only
        if no credential changed since (so a link works once, and a change from an older
        session cannot slip in between), and then ends every session, cancels a pending
        email change and every other link, and lifts the account's lockouts."""
        link = self.links.read_reset(token)
        if isinstance(link, ActivationLink):
            await self._choose_first_password(link, new_password, client)
            return
        user = await self.users.get(link.user_id)
        if user is None or user.security_stamp != link.stamp:
            raise InvalidLinkToken()
        new_hash = await self._hash_new_password(new_password, user.email)
        stamp = await self.security.apply(
            CredentialChange(
                user_id=user.id,
                expected_stamp=link.stamp,
                reason=REVOKED_BY_PASSWORD_RESET,
                lost=InvalidLinkToken,
                values={"password_hash": new_hash, "is_verified": True},
            )
        )
        await self.attempts.lift(user.email_key)
        record_event(
            self.session, user.id, SecurityEventType.PASSWORD_RESET, client, email=user.email
        )
        queue_password_notice(self.mailer, self.links, self.session, user, stamp, reset=True)

    async def _choose_first_password(
        self, link: ActivationLink, new_password: str, client: ClientInfo
    ) -> None:
        registration = await self.registrations.get_live(link.registration_id, utcnow())
        if registration is None:
            raise InvalidLinkToken()
        new_hash = await self._hash_new_password(new_password, registration.email)
        await self._activate(registration, new_hash, client)

    async def _hash_new_password(self, new_password: str, email: str) -> str:
        await self.password_rules.refuse_weak(new_password, email=email)
        return await self.passwords.hash(new_password)

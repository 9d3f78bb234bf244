"""The rules of second factors.

Adding or removing a factor is a credential change (`users/account_security.py`): a
compare-and-set of the account's security stamp, bound to the stamp the calling session
was checked under, so it loses cleanly to a change that got there first, and everything
made under the old stamp ends with it (a login waiting for its second step, a pending
email change, reset links; for turning MFA on, every other session). Checking a code
spends it: a TOTP step or a recovery code is accepted once per account, decided by a
conditional update (`repository.py`).

Lock order, the same everywhere so two requests queue instead of deadlocking: the login's
`mfa_token` row, then the account's row, then the factor rows.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.email.service import Mailer
from fastapi_auth.kernel.client import ClientInfo
from fastapi_auth.kernel.errors import (
    AccountDisabled,
    DomainError,
    EmailNotVerified,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidMfaCode,
    InvalidMfaToken,
    InvalidPassword,
    MfaAlreadyEnabled,
    MfaCodeRefused,
    MfaNotEnabled,
    MfaSetupNotStarted,
)
from fastapi_auth.kernel.links import Links
from fastapi_auth.kernel.models import MfaToken, User, utcnow
from fastapi_auth.kernel.password_gate import PasswordCheck, PasswordGate
from fastapi_auth.kernel.rate_limits import RateLimiter
from fastapi_auth.kernel.secret_box import SecretBox
from fastapi_auth.kernel.security_log import SecurityEventType, record_event
from fastapi_auth.mfa import one_time_codes
from fastapi_auth.mfa.repository import (
    ClaimedAttempt,
    MfaTokenRepository,
    RecoveryCodeRepository,
    TotpRepository,
    factors_of,
)
from fastapi_auth.users.account_security import (
    KEEP_EVERY_SESSION,
    AccountSecurity,
    CredentialChange,
)
from fastapi_auth.users.repository import UserRepository

MFA_TOKEN_LIFETIME = timedelta(minutes=5)
MFA_TOKEN_ATTEMPTS = 5
MFA_TOKEN_BYTES = 32
TOTP_SECRET_PURPOSE = "fastapi-auth mfa totp-secret v1"
REVOKED_BY_MFA_ENABLED = "mfa_enabled"

SecondFactor = Literal["otp", "rec"]
Change = Literal[
    "totp_enabled",
    "totp_disabled",
    "passkey_added",
    "passkey_removed",
    "recovery_codes_regenerated",
    "recovery_code_used",
]


def hash_mfa_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class SecondStepPassed:
    """A login's second step done: the account, the stamp its password was checked
    under (the session is made only if it is still the account's), and the factor."""

    user: User
    stamp: int
    factor: SecondFactor


class MfaService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        password_gate: PasswordGate,
        secret_box: SecretBox,
        limiter: RateLimiter,
        mailer: Mailer,
        links: Links,
        issuer: str,
    ) -> None:
        self.session = session
        self.password_gate = password_gate
        self.secret_box = secret_box
        self.limiter = limiter
        self.mailer = mailer
        self.links = links
        self.issuer = issuer
        self.users = UserRepository(session)
        self.totp = TotpRepository(session)
        self.recovery_codes = RecoveryCodeRepository(session)
        self.mfa_tokens = MfaTokenRepository(session)
        self.security = AccountSecurity(session)

    # -- signed in: the authenticator app and the recovery codes ---------------------------

    async def setup_totp(self, user: User, password: str, client: ClientInfo) -> TotpSetup:
        """A new pending secret (replacing one not confirmed yet), bound to the account's
        stamp: nothing is on until a code from it confirms it."""
        await self.require_password(user, password, client)
        if await self.users.lock(user.id, user.security_stamp) is None:
            raise InvalidAccessToken()
        existing = await self.totp.get(user.id)
        if existing is not None and existing.confirmed_at is not None:
            raise MfaAlreadyEnabled()
        secret = one_time_codes.new_totp_secret()
        await self.totp.replace_pending(
            user.id, self.secret_box.seal(secret.encode()), user.security_stamp, utcnow()
        )
        uri = one_time_codes.otpauth_uri(secret, user.email, self.issuer)
        return TotpSetup(secret=secret, otpauth_uri=uri, qr_svg=one_time_codes.qr_svg(uri))

    async def confirm_totp(
        self, user: User, session_id: uuid.UUID, code: str, client: ClientInfo
    ) -> list[str]:
        """The app is on, and every other session ends; the recovery codes when this turns
        MFA on (they are shown once), else none."""
        pending = await self.totp.get(user.id)
        if (
            pending is None
            or pending.confirmed_at is not None
            or pending.security_stamp != user.security_stamp
        ):
            raise MfaSetupNotStarted()
        step = one_time_codes.matching_step(self._secret(pending.secret_encrypted), code)
        if step is None:
            self._failed(user, client, session_id)
            raise InvalidMfaCode()
        turning_on = not user.mfa_enabled
        stamp = await self._change_factors(user, mfa_enabled=True, keep=session_id)
        if not await self.totp.confirm(
            user.id, user.security_stamp, step, utcnow(), sealed_secret=pending.secret_encrypted
        ):
            raise MfaSetupNotStarted()
        codes = await self._new_recovery_codes(user) if turning_on else []
        self._changed(user, stamp, client, session_id, "totp_enabled", turning_on=turning_on)
        return codes

    async def disable_totp(
        self, user: User, session_id: uuid.UUID, password: str, code: str, client: ClientInfo
    ) -> None:
        """MFA stays on while a passkey remains; off, the recovery codes go too."""
        await self.require_password(user, password, client)
        if await self.users.lock(user.id, user.security_stamp) is None:
            raise InvalidAccessToken()
        app = await self.totp.get(user.id)
        if app is None or app.confirmed_at is None:
            raise MfaNotEnabled()
        factor = await self.check_code(user, code, client, session_id, refused=InvalidMfaCode)
        await self.totp.delete(user.id)
        still_on = (await factors_of(self.session, user.id)).any_second_factor
        stamp = await self._change_factors(user, mfa_enabled=still_on, keep=KEEP_EVERY_SESSION)
        if factor == "rec":
            await self.notify_recovery_code_used(user, stamp)
        if not still_on:
            await self.recovery_codes.delete_all(user.id)
        self._changed(user, stamp, client, session_id, "totp_disabled", turning_off=not still_on)

    async def regenerate_recovery_codes(
        self, user: User, session_id: uuid.UUID, password: str, code: str, client: ClientInfo
    ) -> list[str]:
        """A credential change too (keeping every session), so of two regenerations racing
        exactly one set is the account's, and the set the other showed was never real."""
        await self.require_password(user, password, client)
        if await self.users.lock(user.id, user.security_stamp) is None:
            raise InvalidAccessToken()
        if not user.mfa_enabled:
            raise MfaNotEnabled()
        factor = await self.check_code(user, code, client, session_id, refused=InvalidMfaCode)
        stamp = await self._change_factors(user, mfa_enabled=True, keep=KEEP_EVERY_SESSION)
        if factor == "rec":
            await self.notify_recovery_code_used(user, stamp)
        codes = await self._new_recovery_codes(user)
        record_event(
            self.session,
            user.id,
            SecurityEventType.RECOVERY_CODES_REGENERATED,
            client,
            session_id,
            email=user.email,
        )
        self._notify(user, stamp, "recovery_codes_regenerated")
        return codes

    # -- the login's second step ------------------------------------------------------------

    async def begin_login(self, user: User) -> str:
        """The `mfa_token` of a login whose password was right: opaque, stored as a digest,
        bound to the stamp the password was checked under. `InvalidCredentials`, as for a
        login whose session could not be made, when the account was deleted or changed
        its credentials since the password check."""
        token = secrets.token_urlsafe(MFA_TOKEN_BYTES)
        now = utcnow()
        stored = await self.mfa_tokens.add_if_current(
            MfaToken(
                id=uuid.uuid4(),
                token_hash=hash_mfa_token(token),
                user_id=user.id,
                security_stamp=user.security_stamp,
                created_at=now,
                expires_at=now + MFA_TOKEN_LIFETIME,
            )
        )
        if not stored:
            raise InvalidCredentials()
        return token

    async def methods(self, user: User) -> list[str]:
        return (await factors_of(self.session, user.id)).methods

    async def claim_attempt(self, mfa_token: str) -> ClaimedAttempt:
        """Counts one try on the token, before anything is checked; `InvalidMfaToken` for a
        token that is not live (the sixth try is refused here, right code or not)."""
        claimed = await self.mfa_tokens.claim_attempt(
            hash_mfa_token(mfa_token), utcnow(), MFA_TOKEN_ATTEMPTS
        )
        if claimed is None:
            raise InvalidMfaToken()
        await self.limiter.hit("login", "account", str(claimed.user_id))
        return claimed

    async def live_account(self, claimed: ClaimedAttempt) -> User:
        """The token's account, its row taken, only while it is at the stamp the password
        was checked under: a credential change since kills the login in flight."""
        if await self.users.lock(claimed.user_id, claimed.stamp) is None:
            raise InvalidMfaToken()
        user = await self.users.get(claimed.user_id)
        if user is None:
            raise InvalidMfaToken()
        if not user.is_active:
            raise AccountDisabled()
        if not user.is_verified:
            raise EmailNotVerified()
        return user

    async def complete_with_code(
        self, mfa_token: str, code: str, client: ClientInfo
    ) -> SecondStepPassed:
        claimed = await self.claim_attempt(mfa_token)
        user = await self.live_account(claimed)
        factor = await self.check_code(user, code, client, None, refused=MfaCodeRefused)
        await self.spend(claimed)
        if factor == "rec":
            await self.notify_recovery_code_used(user, claimed.stamp)
        return SecondStepPassed(user=user, stamp=claimed.stamp, factor=factor)

    async def spend(self, claimed: ClaimedAttempt) -> None:
        if not await self.mfa_tokens.spend(claimed.token_id, utcnow()):
            raise InvalidMfaToken()

    # -- shared --------------------------------------------------------------------------

    async def require_password(self, user: User, password: str, client: ClientInfo) -> None:
        verification = await self.password_gate.check(
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

    async def check_code(
        self,
        user: User,
        code: str,
        client: ClientInfo,
        session_id: uuid.UUID | None,
        *,
        refused: type[DomainError],
    ) -> SecondFactor:
        """Spends a TOTP code or a recovery code of the account, after its row is taken;
        `refused` (with an `mfa_failed` event) for a wrong code or one already used. The
        caller sends the notice of a recovery code used (`notify_recovery_code_used`),
        once it knows the stamp the notice's reset link must carry."""
        code = code.strip()
        if one_time_codes.is_totp_shaped(code):
            app = await self.totp.get(user.id)
            if app is not None and app.confirmed_at is not None:
                step = one_time_codes.matching_step(self._secret(app.secret_encrypted), code)
                if step is not None and await self.totp.accept_step(user.id, step):
                    return "otp"
        elif (normalized := one_time_codes.normalized_recovery_code(code)) is not None:
            digest = one_time_codes.recovery_code_hash(normalized)
            if await self.recovery_codes.spend(user.id, digest, utcnow()):
                record_event(
                    self.session,
                    user.id,
                    SecurityEventType.RECOVERY_CODE_USED,
                    client,
                    session_id,
                    email=user.email,
                )
                return "rec"
        self._failed(user, client, session_id)
        raise refused()

    async def notify_recovery_code_used(self, user: User, stamp: int) -> None:
        remaining = await self.recovery_codes.unused(user.id)
        self._notify(user, stamp, "recovery_code_used", remaining)

    async def _change_factors(
        self, user: User, *, mfa_enabled: bool, keep: uuid.UUID | Literal["every"]
    ) -> int:
        return await self.security.apply(
            CredentialChange(
                user_id=user.id,
                expected_stamp=user.security_stamp,
                reason=REVOKED_BY_MFA_ENABLED,
                lost=InvalidAccessToken,
                values={"mfa_enabled": mfa_enabled},
                keep=keep,
            )
        )

    async def _new_recovery_codes(self, user: User) -> list[str]:
        codes = one_time_codes.new_recovery_codes()
        digests = [
            one_time_codes.recovery_code_hash(one_time_codes.normalized_recovery_code(code) or "")
            for code in codes
        ]
        await self.recovery_codes.replace(user.id, digests, utcnow())
        return codes

    def _secret(self, sealed: bytes) -> str:
        return self.secret_box.open(sealed).decode()

    def _failed(self, user: User, client: ClientInfo, session_id: uuid.UUID | None) -> None:
        record_event(
            self.session,
            user.id,
            SecurityEventType.MFA_FAILED,
            client,
            session_id,
            email=user.email,
        )

    def _changed(
        self,
        user: User,
        stamp: int,
        client: ClientInfo,
        session_id: uuid.UUID,
        change: Change,
        *,
        turning_on: bool = False,
        turning_off: bool = False,
    ) -> None:
        """The event and the notice of a factor added or removed."""
        if turning_on or turning_off:
            event = SecurityEventType.MFA_ENABLED if turning_on else SecurityEventType.MFA_DISABLED
            record_event(self.session, user.id, event, client, session_id, email=user.email)
        if change in ("passkey_added", "passkey_removed"):
            event = (
                SecurityEventType.PASSKEY_ADDED
                if change == "passkey_added"
                else SecurityEventType.PASSKEY_REMOVED
            )
            record_event(self.session, user.id, event, client, session_id, email=user.email)
        self._notify(
            user, stamp, change, mfa_now="on" if turning_on else "off" if turning_off else ""
        )

    def _notify(
        self, user: User, stamp: int, change: Change, remaining: int = 0, mfa_now: str = ""
    ) -> None:
        self.mailer.queue_to_account(
            self.session,
            "second_factor_changed",
            user,
            change=change,
            remaining=remaining,
            mfa_now=mfa_now,
            link=self.links.reset_password(user.id, stamp),
        )

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
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

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
    InvalidPasskey,
    MfaAlreadyEnabled,
    MfaCodeRefused,
    MfaNotEnabled,
    MfaSetupNotStarted,
    NotFound,
    PasskeyExists,
    PasskeyRefused,
)
from fastapi_auth.kernel.links import Links
from fastapi_auth.kernel.models import MfaToken, Passkey, User, WebauthnChallenge, utcnow
from fastapi_auth.kernel.password_gate import PasswordGate
from fastapi_auth.kernel.rate_limits import RateLimiter
from fastapi_auth.kernel.secret_box import SecretBox
from fastapi_auth.kernel.security_log import SecurityEventType, record_event
from fastapi_auth.mfa import one_time_codes
from fastapi_auth.mfa.repository import (
    ChallengeRepository,
    ClaimedAttempt,
    MfaTokenRepository,
    PasskeyRepository,
    RecoveryCodeRepository,
    TotpRepository,
    factors_of,
)
from fastapi_auth.mfa.webauthn import (
    Ceremony,
    KnownCredential,
    RelyingParty,
    counter_went_back,
)
from fastapi_auth.users.account_security import (
    KEEP_EVERY_SESSION,
    AccountSecurity,
    CredentialChange,
)
from fastapi_auth.users.repository import UserRepository

MFA_TOKEN_LIFETIME = timedelta(minutes=5)
CHALLENGE_LIFETIME = timedelta(minutes=5)
DEFAULT_PASSKEY_NAME = "Passkey"
MFA_TOKEN_ATTEMPTS = 5
MFA_TOKEN_BYTES = 32
TOTP_SECRET_PURPOSE = "fastapi-auth mfa totp-secret v1"
REVOKED_BY_MFA_ENABLED = "mfa_enabled"

SecondFactor = Literal["otp", "rec", "hwk"]
Change = Literal[
    "totp_enabled",
    "totp_disabled",
    "passkey_added",
    "passkey_removed",
    "recovery_codes_regenerated",
    "recovery_code_used",
]


def _known(passkey: Passkey) -> KnownCredential:
    return KnownCredential(passkey.credential_id, [str(item) for item in passkey.transports])


def hash_mfa_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class PasskeyCeremony:
    """Options for the browser and the id of the challenge the server kept for them."""

    challenge_id: uuid.UUID
    options: dict[str, Any]


@dataclass(frozen=True)
class PasskeyAdded:
    passkey: Passkey
    recovery_codes: list[str]


@dataclass(frozen=True)
class PasskeyLogin:
    """A usernameless login that verified: the account and the stamp it is at, with its
    row taken (the session is made under that stamp)."""

    user: User
    stamp: int


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
        relying_party: RelyingParty,
    ) -> None:
        self.session = session
        self.password_gate = password_gate
        self.secret_box = secret_box
        self.limiter = limiter
        self.mailer = mailer
        self.links = links
        self.issuer = issuer
        self.relying_party = relying_party
        self.passkeys = PasskeyRepository(session)
        self.challenges = ChallengeRepository(session)
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

    # -- signed in: passkeys -----------------------------------------------------------------

    async def passkey_creation_options(self, user: User) -> PasskeyCeremony:
        """A registration challenge bound to the account and the stamp it was asked under:
        a credential change before the passkey comes back kills it."""
        existing = await self.passkeys.of_user(user.id)
        ceremony = self.relying_party.creation_options(
            user_handle=user.id.bytes,
            user_name=user.email,
            display_name=user.full_name or user.email,
            exclude=[_known(passkey) for passkey in existing],
        )
        return self._keep(ceremony, "register", user_id=user.id, stamp=user.security_stamp)

    async def add_passkey(
        self,
        user: User,
        session_id: uuid.UUID,
        challenge_id: uuid.UUID,
        credential: dict[str, Any],
        name: str | None,
        client: ClientInfo,
    ) -> PasskeyAdded:
        """A credential change: turning MFA on ends every other session and returns the
        recovery codes (shown once); with MFA on already every session stays."""
        challenge = await self.challenges.take(challenge_id, "register", utcnow())
        if (
            challenge is None
            or challenge.user_id != user.id
            or challenge.security_stamp != user.security_stamp
        ):
            raise InvalidPasskey()
        new = self.relying_party.verify_registration(credential, challenge.challenge)
        if await self.passkeys.by_credential_id(new.credential_id) is not None:
            raise PasskeyExists()
        turning_on = not user.mfa_enabled
        stamp = await self._change_factors(
            user, mfa_enabled=True, keep=session_id if turning_on else KEEP_EVERY_SESSION
        )
        passkey = Passkey(
            id=uuid.uuid4(),
            user_id=user.id,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            name=name or DEFAULT_PASSKEY_NAME,
            transports=new.transports,
            aaguid=new.aaguid,
            backup_eligible=new.backup_eligible,
            backed_up=new.backed_up,
            created_at=utcnow(),
        )
        if not await self.passkeys.add(passkey):
            raise PasskeyExists()
        codes = await self._new_recovery_codes(user) if turning_on else []
        self._changed(user, stamp, client, session_id, "passkey_added", turning_on=turning_on)
        return PasskeyAdded(passkey=passkey, recovery_codes=codes)

    async def list_passkeys(self, user: User) -> list[Passkey]:
        return list(await self.passkeys.of_user(user.id))

    async def rename_passkey(self, user: User, passkey_id: uuid.UUID, name: str) -> Passkey:
        """Only a label: no credential changes, no notice."""
        passkey = await self.passkeys.get(passkey_id, user.id)
        if passkey is None or not await self.passkeys.rename(passkey_id, user.id, name):
            raise NotFound()
        set_committed_value(passkey, "name", name)  # what the UPDATE wrote, no second one
        return passkey

    async def remove_passkey(
        self,
        user: User,
        session_id: uuid.UUID,
        passkey_id: uuid.UUID,
        password: str,
        client: ClientInfo,
    ) -> None:
        """Behind the password; a credential change keeping every session. MFA stays on
        while an authenticator app or another passkey remains; off, the recovery codes
        go too."""
        await self.require_password(user, password, client)
        if await self.users.lock(user.id, user.security_stamp) is None:
            raise InvalidAccessToken()
        if not await self.passkeys.delete(passkey_id, user.id):
            raise NotFound()
        still_on = (await factors_of(self.session, user.id)).any_second_factor
        stamp = await self._change_factors(user, mfa_enabled=still_on, keep=KEEP_EVERY_SESSION)
        if not still_on:
            await self.recovery_codes.delete_all(user.id)
        self._changed(user, stamp, client, session_id, "passkey_removed", turning_off=not still_on)

    # -- passkey logins ------------------------------------------------------------------------

    def usernameless_options(self) -> PasskeyCeremony:
        """An empty allow list: the browser offers whichever discoverable passkey of this
        RP the user picks; the assertion says whose it is."""
        return self._keep(self.relying_party.request_options([]), "login")

    async def login_with_passkey(
        self, challenge_id: uuid.UUID, credential: dict[str, Any], client: ClientInfo
    ) -> PasskeyLogin:
        """A passkey is both factors. The passkey is found by `rawId`; the unsigned
        `userHandle` must name its owner. The account's state (disabled, unverified) is
        told only once the signature verified, as a login tells it only after the
        password."""
        challenge = await self.challenges.take(challenge_id, "login", utcnow())
        if challenge is None:
            raise PasskeyRefused()
        assertion = self.relying_party.read_assertion(credential)
        passkey = await self.passkeys.by_credential_id(assertion.credential_id)
        if passkey is None or assertion.user_handle != passkey.user_id.bytes:
            raise PasskeyRefused()
        stamp = await self.users.lock(passkey.user_id)
        user = await self.users.get(passkey.user_id)
        if stamp is None or user is None:
            raise PasskeyRefused()
        await self._use_passkey(
            user, passkey, credential, challenge.challenge, client, second_step=False
        )
        if not user.is_active:
            raise AccountDisabled()
        if not user.is_verified:
            raise EmailNotVerified()
        return PasskeyLogin(user=user, stamp=stamp)

    async def second_step_options(self, mfa_token: str) -> PasskeyCeremony:
        """Request options naming the account's passkeys, the challenge bound to the
        login in flight (its second step takes it by the token)."""
        live = await self.mfa_tokens.find_live(
            hash_mfa_token(mfa_token), utcnow(), MFA_TOKEN_ATTEMPTS
        )
        if live is None:
            raise InvalidMfaToken()
        passkeys = await self.passkeys.of_user(live.user_id)
        ceremony = self.relying_party.request_options([_known(passkey) for passkey in passkeys])
        return self._keep(ceremony, "mfa", user_id=live.user_id, mfa_token_id=live.token_id)

    async def complete_with_passkey(
        self, mfa_token: str, credential: dict[str, Any], client: ClientInfo
    ) -> SecondStepPassed:
        """Counted as one try on the token, like a code, before anything is checked; the
        passkey must be one of this account's. Locks: the token's row, the account's,
        then the passkey's."""
        claimed = await self.claim_attempt(mfa_token)
        user = await self.live_account(claimed)
        challenge = await self.challenges.take_for_mfa_token(claimed.token_id, utcnow())
        try:
            if challenge is None:
                raise PasskeyRefused()
            assertion = self.relying_party.read_assertion(credential)
            passkey = await self.passkeys.by_credential_id(assertion.credential_id)
            if passkey is None or passkey.user_id != user.id:
                raise PasskeyRefused()
            if assertion.user_handle is not None and assertion.user_handle != user.id.bytes:
                raise PasskeyRefused()
        except PasskeyRefused:
            self._failed(user, client, None)
            raise
        await self._use_passkey(
            user, passkey, credential, challenge.challenge, client, second_step=True
        )
        await self.spend(claimed)
        return SecondStepPassed(user=user, stamp=claimed.stamp, factor="hwk")

    async def _use_passkey(
        self,
        user: User,
        passkey: Passkey,
        credential: dict[str, Any],
        challenge: bytes,
        client: ClientInfo,
        *,
        second_step: bool,
    ) -> None:
        """The signature first, then the counter: a counter that went back (a cloned
        authenticator) is refused with an `mfa_failed` event, and only a genuine
        signature can set that off. The counter moves by a conditional update, so of two
        assertions racing with one counter value one gets in. A bad assertion is an
        `mfa_failed` event only in a second step, whose password was right: in a
        usernameless login anyone who knows a credential id could write them."""
        try:
            verified = self.relying_party.verify_assertion(
                credential, challenge, passkey.public_key
            )
        except PasskeyRefused:
            if second_step:
                self._failed(user, client, None)
            raise
        seen = passkey.sign_count
        if counter_went_back(seen, verified.sign_count) or not await self.passkeys.advance_counter(
            passkey.id, seen, verified.sign_count, utcnow(), backed_up=verified.backed_up
        ):
            self._failed(user, client, None)
            raise PasskeyRefused()

    def _keep(
        self,
        ceremony: Ceremony,
        purpose: str,
        *,
        user_id: uuid.UUID | None = None,
        stamp: int | None = None,
        mfa_token_id: uuid.UUID | None = None,
    ) -> PasskeyCeremony:
        now = utcnow()
        challenge = WebauthnChallenge(
            id=uuid.uuid4(),
            purpose=purpose,
            challenge=ceremony.challenge,
            user_id=user_id,
            security_stamp=stamp,
            mfa_token_id=mfa_token_id,
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
        )
        self.challenges.add(challenge)
        return PasskeyCeremony(challenge_id=challenge.id, options=ceremony.options)

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
        await self.password_gate.require_account_password(self.session, user, password, client)

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

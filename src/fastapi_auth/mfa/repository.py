"""All SQL about second factors and the logins waiting for one.

Whatever is single-use is spent by one conditional update whose row count says who won:
a TOTP step (`accept_step`), a recovery code (`spend_recovery_code`), an attempt on an
`mfa_token` (`claim_attempt`), the token itself (`spend`), a WebAuthn challenge
(`take_challenge`), a passkey's counter (`advance_counter`). Of any number of requests
racing with one of them, on any number of instances, exactly one gets the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_auth.kernel.models import (
    MfaToken,
    Passkey,
    RecoveryCode,
    TotpAuthenticator,
    User,
    WebauthnChallenge,
)


class TotpRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> TotpAuthenticator | None:
        return await self.session.scalar(
            select(TotpAuthenticator).where(TotpAuthenticator.user_id == user_id)
        )

    async def replace_pending(
        self, user_id: uuid.UUID, sealed_secret: bytes, stamp: int, now: datetime
    ) -> None:
        """After the account's row is taken, and only when no confirmed app exists."""
        await self.session.execute(
            delete(TotpAuthenticator).where(
                TotpAuthenticator.user_id == user_id, TotpAuthenticator.confirmed_at.is_(None)
            )
        )
        await self.session.execute(
            insert(TotpAuthenticator).values(
                user_id=user_id,
                secret_encrypted=sealed_secret,
                security_stamp=stamp,
                created_at=now,
            )
        )

    async def confirm(
        self, user_id: uuid.UUID, stamp: int, step: int, now: datetime, *, sealed_secret: bytes
    ) -> bool:
        """The pending app made under `stamp` with the secret the first code was checked
        against becomes the account's, that code's step spent; False when it was replaced
        (by a setup that raced the confirmation), confirmed already, or a credential
        changed."""
        result = await self.session.execute(
            update(TotpAuthenticator)
            .where(
                TotpAuthenticator.user_id == user_id,
                TotpAuthenticator.confirmed_at.is_(None),
                TotpAuthenticator.security_stamp == stamp,
                TotpAuthenticator.secret_encrypted == sealed_secret,
            )
            .values(confirmed_at=now, last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def accept_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Spends `step` for the account: False when it, or a later one, was spent already
        (a replayed code, or an older one), or there is no confirmed app."""
        result = await self.session.execute(
            update(TotpAuthenticator)
            .where(
                TotpAuthenticator.user_id == user_id,
                TotpAuthenticator.confirmed_at.is_not(None),
                or_(
                    TotpAuthenticator.last_used_step.is_(None),
                    TotpAuthenticator.last_used_step < step,
                ),
            )
            .values(last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def delete(self, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(TotpAuthenticator)
            .where(TotpAuthenticator.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


class RecoveryCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, user_id: uuid.UUID, code_hashes: Sequence[str], now: datetime) -> None:
        await self.delete_all(user_id)
        await self.session.execute(
            insert(RecoveryCode),
            [
                {"id": uuid.uuid4(), "user_id": user_id, "code_hash": code_hash, "created_at": now}
                for code_hash in code_hashes
            ],
        )

    async def spend(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def unused(self, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        return int(count or 0)

    async def delete_all(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(RecoveryCode)
            .where(RecoveryCode.user_id == user_id)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class Factors:
    """What an account can complete a login with."""

    totp: bool
    recovery_codes: bool
    passkeys: bool

    @property
    def any_second_factor(self) -> bool:
        """Recovery codes stand in for a factor; alone they are none."""
        return self.totp or self.passkeys

    @property
    def methods(self) -> list[str]:
        named = (("totp", self.totp), ("recovery_code", self.recovery_codes))
        return [name for name, present in (*named, ("passkey", self.passkeys)) if present]


async def factors_of(session: AsyncSession, user_id: uuid.UUID) -> Factors:
    """One query for the three."""
    totp = (
        select(func.count())
        .select_from(TotpAuthenticator)
        .where(TotpAuthenticator.user_id == user_id, TotpAuthenticator.confirmed_at.is_not(None))
        .scalar_subquery()
    )
    codes = (
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        .scalar_subquery()
    )
    passkeys = (
        select(func.count())
        .select_from(Passkey)
        .where(Passkey.user_id == user_id)
        .scalar_subquery()
    )
    row = (await session.execute(select(totp, codes, passkeys))).one()
    return Factors(totp=row[0] > 0, recovery_codes=row[1] > 0, passkeys=row[2] > 0)


@dataclass(frozen=True)
class ClaimedAttempt:
    token_id: uuid.UUID
    user_id: uuid.UUID
    stamp: int


class MfaTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_if_current(self, token: MfaToken) -> bool:
        """Inserts the login in flight only while its account exists, is active, verified
        and at the stamp the password was checked under, in one statement: a deletion (or
        a credential change) that got there between the password check and this leaves
        nothing, instead of a foreign-key error. On PostgreSQL the account's row is read
        `FOR KEY SHARE`, so a deletion in flight finishes first."""
        source = (
            select(
                literal(token.id, MfaToken.id.type),
                literal(token.token_hash, MfaToken.token_hash.type),
                User.id,
                User.security_stamp,
                literal(0, MfaToken.attempts.type),
                literal(token.created_at, MfaToken.created_at.type),
                literal(token.expires_at, MfaToken.expires_at.type),
            )
            .where(
                User.id == token.user_id,
                User.security_stamp == token.security_stamp,
                User.is_active,
                User.is_verified,
            )
            .with_for_update(read=True, key_share=True)
        )
        inserted = await self.session.execute(
            insert(MfaToken).from_select(
                [
                    "id",
                    "token_hash",
                    "user_id",
                    "security_stamp",
                    "attempts",
                    "created_at",
                    "expires_at",
                ],
                source,
            )
        )
        return bool(inserted.rowcount == 1)  # type: ignore[attr-defined]

    async def claim_attempt(
        self, token_hash: str, now: datetime, max_attempts: int
    ) -> ClaimedAttempt | None:
        """Counts one code tried on a live token, before the code is evaluated: of a burst
        of guesses at most `max_attempts` are ever evaluated. None: no such live token
        (unknown, expired, spent, or out of attempts)."""
        row = (
            await self.session.execute(
                update(MfaToken)
                .where(
                    MfaToken.token_hash == token_hash,
                    MfaToken.spent_at.is_(None),
                    MfaToken.expires_at > now,
                    MfaToken.attempts < max_attempts,
                )
                .values(attempts=MfaToken.attempts + 1)
                .returning(MfaToken.id, MfaToken.user_id, MfaToken.security_stamp)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return None if row is None else ClaimedAttempt(row[0], row[1], row[2])

    async def find_live(
        self, token_hash: str, now: datetime, max_attempts: int
    ) -> ClaimedAttempt | None:
        row = (
            await self.session.execute(
                select(MfaToken.id, MfaToken.user_id, MfaToken.security_stamp).where(
                    MfaToken.token_hash == token_hash,
                    MfaToken.spent_at.is_(None),
                    MfaToken.expires_at > now,
                    MfaToken.attempts < max_attempts,
                )
            )
        ).first()
        return None if row is None else ClaimedAttempt(row[0], row[1], row[2])

    async def spend(self, token_id: uuid.UUID, now: datetime) -> bool:
        result = await self.session.execute(
            update(MfaToken)
            .where(MfaToken.id == token_id, MfaToken.spent_at.is_(None))
            .values(spent_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


class ChallengeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, challenge: WebauthnChallenge) -> None:
        self.session.add(challenge)

    async def take(
        self, challenge_id: uuid.UUID, purpose: str, now: datetime
    ) -> WebauthnChallenge | None:
        """Deletes the live challenge and returns it: the one request that gets it is the
        one that may use it."""
        row = (
            await self.session.execute(
                delete(WebauthnChallenge)
                .where(
                    WebauthnChallenge.id == challenge_id,
                    WebauthnChallenge.purpose == purpose,
                    WebauthnChallenge.expires_at > now,
                )
                .returning(
                    WebauthnChallenge.id,
                    WebauthnChallenge.challenge,
                    WebauthnChallenge.user_id,
                    WebauthnChallenge.security_stamp,
                    WebauthnChallenge.mfa_token_id,
                )
                .execution_options(synchronize_session=False)
            )
        ).first()
        if row is None:
            return None
        return WebauthnChallenge(
            id=row[0],
            purpose=purpose,
            challenge=row[1],
            user_id=row[2],
            security_stamp=row[3],
            mfa_token_id=row[4],
        )

    async def take_for_mfa_token(
        self, mfa_token_id: uuid.UUID, now: datetime
    ) -> WebauthnChallenge | None:
        """The second step's challenge: the newest one its token asked for."""
        challenge_id = await self.session.scalar(
            select(WebauthnChallenge.id)
            .where(WebauthnChallenge.mfa_token_id == mfa_token_id)
            .order_by(WebauthnChallenge.created_at.desc())
            .limit(1)
        )
        if challenge_id is None:
            return None
        return await self.take(challenge_id, "mfa", now)


class PasskeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: uuid.UUID) -> Sequence[Passkey]:
        return (
            await self.session.scalars(
                select(Passkey)
                .where(Passkey.user_id == user_id)
                .order_by(Passkey.created_at, Passkey.id)
            )
        ).all()

    async def get(self, passkey_id: uuid.UUID, user_id: uuid.UUID) -> Passkey | None:
        return await self.session.scalar(
            select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
        )

    async def by_credential_id(self, credential_id: bytes) -> Passkey | None:
        return await self.session.scalar(
            select(Passkey).where(Passkey.credential_id == credential_id)
        )

    async def add(self, passkey: Passkey) -> bool:
        """False when the credential id is registered already (to any account): decided
        by the unique index, in a savepoint, so two registrations racing with one
        authenticator end with one row and the other's 409."""
        columns = ("id", "user_id", "credential_id", "public_key", "sign_count", "name")
        more = ("transports", "aaguid", "backup_eligible", "backed_up", "created_at")
        values = {name: getattr(passkey, name) for name in (*columns, *more)}
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(Passkey).values(**values))
        except IntegrityError:
            return False
        return True

    async def rename(self, passkey_id: uuid.UUID, user_id: uuid.UUID, name: str) -> bool:
        result = await self.session.execute(
            update(Passkey)
            .where(Passkey.id == passkey_id, Passkey.user_id == user_id)
            .values(name=name)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def advance_counter(
        self,
        passkey_id: uuid.UUID,
        seen: int,
        new_count: int,
        now: datetime,
        *,
        backed_up: bool | None = None,
    ) -> bool:
        """Records a use: only while the counter is still the `seen` one the assertion
        was checked against, so two assertions racing with one counter value let one in
        (a counter that stays 0 is the authenticator's way of having none). `backed_up`:
        the flag as this assertion reported it (a passkey gets synced later)."""
        values: dict[str, object] = {"sign_count": new_count, "last_used_at": now}
        if backed_up is not None:
            values["backed_up"] = backed_up
        result = await self.session.execute(
            update(Passkey)
            .where(Passkey.id == passkey_id, Passkey.sign_count == seen)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def delete(self, passkey_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(Passkey)
            .where(Passkey.id == passkey_id, Passkey.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def prune_logins_in_flight(session: AsyncSession, now: datetime) -> int:
    """Deletes expired `mfa_token`s (and with them their challenges) and every other
    expired WebAuthn challenge: each is useless once expired, spent or not."""
    expired_tokens = select(MfaToken.id).where(MfaToken.expires_at <= now)
    challenges = await session.execute(
        delete(WebauthnChallenge)
        .where(
            or_(
                WebauthnChallenge.expires_at <= now,
                WebauthnChallenge.mfa_token_id.in_(expired_tokens),
            )
        )
        .execution_options(synchronize_session=False)
    )
    tokens = await session.execute(
        delete(MfaToken)
        .where(MfaToken.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(challenges.rowcount + tokens.rowcount)  # type: ignore[attr-defined]

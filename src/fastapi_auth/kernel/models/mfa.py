"""The second factors of an account, and the logins waiting for one.

Each row that a credential depends on carries the `security_stamp` it was made under
(a pending authenticator app, a login in flight), so a credential change kills it; each
single-use thing (a TOTP step, a recovery code, a challenge, an `mfa_token`) is spent by
a conditional update, so of two requests racing with it exactly one wins.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_auth.kernel.models.base import Base, CreatedAtMixin, IdMixin


class TotpAuthenticator(CreatedAtMixin, Base):
    """An account's authenticator app (one at most): pending until a first code confirms
    it. The secret is stored encrypted (`kernel/secret_box.py`). `last_used_step` is the
    RFC 6238 time step of the last code accepted: a code of that step or an earlier one is
    refused, which makes each code single-use across every instance."""

    __tablename__ = "mfa_totp"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    security_stamp: Mapped[int] = mapped_column()
    """The stamp a pending setup was made under: a credential change before the first
    code confirms it kills it."""
    confirmed_at: Mapped[datetime | None] = mapped_column()
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(IdMixin, CreatedAtMixin, Base):
    """One single-use recovery code, stored only as its SHA-256 (the codes are random and
    long, so a fast hash is enough: there is nothing to guess offline)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column()


class Passkey(IdMixin, CreatedAtMixin, Base):
    """A WebAuthn credential. `sign_count` only moves forward (a counter going back means
    a cloned authenticator); counters that stay 0 are allowed, as the spec says."""

    __tablename__ = "passkeys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    transports: Mapped[list[Any]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    backup_eligible: Mapped[bool] = mapped_column(default=False)
    backed_up: Mapped[bool] = mapped_column(default=False)
    last_used_at: Mapped[datetime | None] = mapped_column()


class WebauthnChallenge(IdMixin, CreatedAtMixin, Base):
    """A challenge handed to a browser, kept server-side and deleted by the one request
    that uses it. `purpose` says which ceremony it is for; a registration's belongs to an
    account (under the stamp it was asked under), a second step's to its `mfa_token`, and
    a usernameless login's to nobody yet."""

    __tablename__ = "webauthn_challenges"

    purpose: Mapped[str] = mapped_column(String(16))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    security_stamp: Mapped[int | None] = mapped_column()
    mfa_token_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("mfa_tokens.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(index=True)


class MfaToken(IdMixin, CreatedAtMixin, Base):
    """A login between its password check and its second factor: stored as the SHA-256
    of the opaque token handed out, bound to the account's stamp when the password was
    checked. `attempts` counts every code tried, before it is evaluated."""

    __tablename__ = "mfa_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    security_stamp: Mapped[int] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    spent_at: Mapped[datetime | None] = mapped_column()

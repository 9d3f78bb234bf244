"""account security state: a security stamp on accounts and sessions, registrations and
email changes as records of their own, outbox emails tied to the account they are about

Unverified accounts become registrations: each keeps its password and profile and can
be activated by `resend-verification` (their old links were bound to the previous link
format and no longer verify). Emails queued before this revision are tied to no account (deleting
one removes the mail tied to it, not mail by address). Downgrading turns the newest
registration of each address that has no account back into an unverified account.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REGISTRATION_LIFETIME = timedelta(hours=24)

users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("email_key", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("full_name", sa.String()),
    sa.column("phone_number", sa.String()),
    sa.column("is_verified", sa.Boolean()),
    sa.column("is_active", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
registrations = sa.table(
    "registrations",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("email_key", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("full_name", sa.String()),
    sa.column("phone_number", sa.String()),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
PROFILE = ("id", "email", "email_key", "password_hash", "full_name", "phone_number")


SAME_LOOKING = str.maketrans(
    {"\u0131": "i", "\u0237": "j", "\u0251": "a", "\u0261": "g", "\u0269": "i", "\u0307": None}
)


def _email_key(email: str) -> str:
    """`users.schemas.email_key` as of this revision (a migration must not change with it)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold())
    return folded.translate(SAME_LOOKING)


def _fold_email_keys(connection: sa.Connection) -> None:
    """Keys were lower-cased only; now look-alike addresses share one. An account whose
    new key another account already has keeps its old one (and cannot be confused with
    it any more than before)."""
    taken = set(connection.scalars(sa.select(users.c.email_key)))
    for user_id, email, key in connection.execute(
        sa.select(users.c.id, users.c.email, users.c.email_key)
    ):
        folded = _email_key(email)
        if folded != key and folded not in taken:
            connection.execute(
                sa.update(users).where(users.c.id == user_id).values(email_key=folded)
            )
            taken.add(folded)
    for registration_id, email, key in connection.execute(
        sa.select(registrations.c.id, registrations.c.email, registrations.c.email_key)
    ):
        if _email_key(email) != key:
            connection.execute(
                sa.update(registrations)
                .where(registrations.c.id == registration_id)
                .values(email_key=_email_key(email))
            )


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else now


def upgrade() -> None:
    op.create_table(
        "registrations",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column("phone_number", sa.String(length=16), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registrations_email_key"), ["email_key"])
        batch_op.create_index(batch_op.f("ix_registrations_expires_at"), ["expires_at"])

    op.create_table(
        "email_changes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("old_email", sa.String(length=320), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=False),
        sa.Column("security_stamp", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_changes")),
    )
    with op.batch_alter_table("email_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_changes_user_id"), ["user_id"])

    for table in ("auth_sessions", "users"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "security_stamp", sa.Integer(), server_default=sa.text("0"), nullable=False
                )
            )
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_emails_account_id"), ["account_id"])

    connection = op.get_bind()
    unverified = connection.execute(
        sa.select(*(users.c[name] for name in PROFILE), users.c.created_at).where(
            sa.not_(users.c.is_verified)
        )
    ).all()
    if unverified:
        expires_at = _now() + REGISTRATION_LIFETIME
        connection.execute(
            sa.insert(registrations),
            [{**row._asdict(), "expires_at": expires_at} for row in unverified],
        )
        connection.execute(sa.delete(users).where(sa.not_(users.c.is_verified)))
    _fold_email_keys(connection)


def downgrade() -> None:
    connection = op.get_bind()
    taken = set(connection.scalars(sa.select(users.c.email_key)))
    newest: dict[str, Any] = {}
    for row in connection.execute(
        sa.select(
            *(registrations.c[name] for name in PROFILE), registrations.c.created_at
        ).order_by(registrations.c.created_at)
    ):
        if row.email_key not in taken:
            newest[row.email_key] = row
    if newest:
        now = _now()
        connection.execute(
            sa.insert(users),
            [
                {**row._asdict(), "is_verified": False, "is_active": True, "updated_at": now}
                for row in newest.values()
            ],
        )

    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_emails_account_id"))
        batch_op.drop_column("account_id")
    for table in ("users", "auth_sessions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("security_stamp")
    with op.batch_alter_table("email_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_changes_user_id"))
    op.drop_table("email_changes")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrations_expires_at"))
        batch_op.drop_index(batch_op.f("ix_registrations_email_key"))
    op.drop_table("registrations")

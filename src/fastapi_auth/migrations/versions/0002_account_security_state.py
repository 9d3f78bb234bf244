"""account security state: a security stamp on accounts and sessions, registrations and
email changes as records of their own

Unverified accounts become registrations: each keeps its password and profile and can
be activated by `resend-verification` (their old links were bound to the previous link
format and no longer verify). Downgrading turns the newest registration of each address
that has no account back into an unverified account.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

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

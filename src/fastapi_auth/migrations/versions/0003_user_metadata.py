"""user metadata: `user_metadata` and `app_metadata` on accounts

Two JSON objects (JSONB on PostgreSQL), empty for every existing account. Downgrading
drops them with whatever they held.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("user_metadata", "app_metadata")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(
                sa.Column(
                    name,
                    sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                    server_default=sa.text("'{}'"),
                    nullable=False,
                )
            )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)

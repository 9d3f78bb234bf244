"""The host's own tables, beside the package's in one database."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

metadata = MetaData()

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("text", Text, nullable=False),
)

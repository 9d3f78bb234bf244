"""Running the host's migrations (its own Alembic, beside the package's)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def notes_alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_notes(database_url: str) -> None:
    """Alembic's env runs its own event loop: call this from a worker thread."""
    command.upgrade(notes_alembic_config(database_url), "head")

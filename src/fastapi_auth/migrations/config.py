"""An Alembic `Config` that needs no alembic.ini, so the installed package can migrate."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from fastapi_auth.kernel.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(settings: Settings | None = None, database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is None and settings is not None:
        database_url = settings.database_url.render_as_string(hide_password=False)
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config

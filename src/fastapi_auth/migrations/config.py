"""An Alembic `Config` that needs no alembic.ini, so the installed package can migrate;
and what a running app needs to know of the migrations without importing Alembic."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi_auth.kernel.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"

VERSION_TABLE = "fastapi_auth_alembic_version"
"""Ours, not Alembic's default `alembic_version`: a host app running its own Alembic on
the same database keeps that table, and neither history sees the other's revisions."""

LEGACY_VERSION_TABLE = "alembic_version"
"""Where releases before the table of our own recorded their revision (see env.py)."""

MIGRATION_LOCK_KEY = 0x66617574685F6462
"""`pg_advisory_xact_lock`'s key ("fauth_db" in ASCII): instances that start at once
upgrade one after the other, and the later ones find nothing left to apply."""

APPLIED = "fastapi_auth_applied_revisions"
"""`Config.attributes` key: a list the runner hands env.py, to learn what a run applied."""


def alembic_config(settings: Settings | None = None, database_url: str | None = None) -> Config:
    # Imported here: a server that never migrates spares the memory (alembic and mako).
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is None and settings is not None:
        database_url = settings.database_url.render_as_string(hide_password=False)
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _literal(module: ast.Module, name: str) -> object:
    for statement in module.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            target, value = statement.target.id, statement.value
        elif (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            target, value = statement.targets[0].id, statement.value
        else:
            continue
        if target == name and value is not None:
            return ast.literal_eval(value)
    raise LookupError(name)


@functools.cache
def script_head() -> str:
    """The newest revision of the scripts shipped with this version, read from their
    source rather than through Alembic's script directory, so an app that only checks
    the schema never loads Alembic (~7 MiB); a test holds it equal to Alembic's head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        if path.name.startswith("_"):
            continue
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        revision = _literal(module, "revision")
        down = _literal(module, "down_revision")
        assert isinstance(revision, str), path
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)):
            parents.update(str(parent) for parent in down)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have one head, not {sorted(heads)}")
    return heads.pop()

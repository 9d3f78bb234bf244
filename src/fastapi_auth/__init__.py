"""Authentication and user management for FastAPI."""

from fastapi_auth.kernel.settings import Settings
from fastapi_auth.main import auth_lifespan, build_runtime, create_app, install
from fastapi_auth.migrations.runner import upgrade_database, upgrade_database_sync

__all__ = [
    "Settings",
    "auth_lifespan",
    "build_runtime",
    "create_app",
    "install",
    "upgrade_database",
    "upgrade_database_sync",
]

"""Authentication and user management for FastAPI.

Standalone: `create_app(Settings())`. Inside your app: `mount(app, Settings())`, then
protect your routes with `CurrentUser` (see README, "Embedding").
"""

from fastapi_auth.kernel.hooks import Hook, Hooks
from fastapi_auth.kernel.models import User
from fastapi_auth.kernel.principal import (
    AttachedPrincipal,
    CurrentPrincipal,
    CurrentUser,
    MfaPrincipal,
    OptionalUser,
    Principal,
    require_mfa,
)
from fastapi_auth.kernel.security_log import AccountEvent, SecurityEventType
from fastapi_auth.kernel.settings import Settings
from fastapi_auth.main import Runtime, auth_lifespan, build_runtime, create_app, install, mount
from fastapi_auth.migrations.runner import upgrade_database, upgrade_database_sync

__all__ = [
    "AccountEvent",
    "AttachedPrincipal",
    "CurrentPrincipal",
    "CurrentUser",
    "Hook",
    "Hooks",
    "MfaPrincipal",
    "OptionalUser",
    "Principal",
    "Runtime",
    "SecurityEventType",
    "Settings",
    "User",
    "auth_lifespan",
    "build_runtime",
    "create_app",
    "install",
    "mount",
    "require_mfa",
    "upgrade_database",
    "upgrade_database_sync",
]

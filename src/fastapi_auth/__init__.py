"""Authentication and user management for FastAPI."""

from fastapi_auth.kernel.settings import Settings
from fastapi_auth.main import auth_lifespan, build_runtime, create_app, install

__all__ = ["Settings", "auth_lifespan", "build_runtime", "create_app", "install"]

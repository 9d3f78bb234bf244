"""Authentication and user management for FastAPI."""

from fastapi_auth.main import auth_lifespan, build_runtime, create_app, install
from fastapi_auth.settings import Settings

__all__ = ["Settings", "auth_lifespan", "build_runtime", "create_app", "install"]

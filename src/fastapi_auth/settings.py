"""One settings object, read from the environment and `.env`.

Every setting has a default that runs on a laptop; production refuses the
defaults that would be unsafe there (a missing or placeholder secret).
"""

from __future__ import annotations

import logging
import secrets
from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

logger = logging.getLogger("fastapi_auth")

PLACEHOLDER_SECRETS = frozenset({"changethis", "change-me", "changeme", "secret", "dev", "test"})
MIN_SECRET_BYTES = 32
DEFAULT_FRONTEND_URL = "http://localhost:8000"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})  # noqa: S104
DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
PORT = Annotated[int, Field(ge=1, le=65535)]
RATE_LIMITS = (
    "rate_limit_login",
    "rate_limit_register",
    "rate_limit_email",
    "rate_limit_token",
    "rate_limit_emails_per_address",
    "rate_limit_failed_logins_per_account",
)


def describe(error: ValidationError) -> str:
    """A configuration error as one line per setting: its variable, what is wrong, and
    (in the message) the fix; never the value, which may be a secret."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        names = [str(part).upper() for part in item["loc"] if isinstance(part, str)]
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{names[0]}: {message}" if names else message)
    return "configuration error: " + "; ".join(lines)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    environment: Literal["local", "test", "production"] = "local"
    project_name: str = "fastapi-auth"

    db_url: SecretStr | None = None
    """A secret: it may carry the database's password."""
    postgres_server: str | None = None
    postgres_port: PORT = 5432
    postgres_user: str = "postgres"
    postgres_password: SecretStr = SecretStr("")
    postgres_db: str = "app"
    db_pool_size: int = 10
    db_connect_timeout_seconds: float = 5.0

    jwt_secret: SecretStr | None = None
    access_token_expire_minutes: int = Field(default=15, ge=1)
    refresh_token_expire_days: int = Field(default=30, ge=1)
    max_sessions_per_user: int = Field(default=100, ge=1)
    verify_token_expire_hours: int = Field(default=24, ge=1)
    reset_token_expire_minutes: int = Field(default=60, ge=1)
    email_change_cancel_days: int = Field(default=7, ge=1)

    argon2_memory_kib: int = Field(default=19_456, ge=8_192)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)

    email_host: str | None = None
    email_port: PORT = 587
    email_user: str | None = None
    email_password: SecretStr | None = None
    email_from: str = "no-reply@example.com"
    email_from_name: str = "fastapi-auth"
    email_starttls: bool | None = None
    email_ssl: bool = False
    email_ca_file: str | None = None
    email_timeout_seconds: float = Field(default=10.0, gt=0)
    email_max_attempts: int = Field(default=12, ge=1)
    email_retry_base_seconds: float = Field(default=5.0, gt=0)
    email_retry_max_seconds: float = Field(default=3600.0, gt=0)
    email_dispatcher_enabled: bool = True
    email_poll_seconds: float = Field(default=1.0, gt=0)

    frontend_url: str | None = None
    """Unset: `fastapi-auth serve` uses the address it serves on, else `DEFAULT_FRONTEND_URL`."""

    redis_url: SecretStr | None = None
    rate_limit_enabled: bool = True
    rate_limit_key_prefix: str = "fastapi-auth"
    rate_limit_login: str = "10/minute"
    rate_limit_register: str = "5/minute"
    rate_limit_email: str = "5/minute"
    rate_limit_token: str = "30/minute"
    rate_limit_emails_per_address: str = "3/hour"
    rate_limit_failed_logins_per_account: str = "100/hour"
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_base_seconds: int = Field(default=30, ge=1)
    lockout_max_seconds: int = Field(default=3600, ge=1)
    trusted_proxies: Annotated[list[str], NoDecode] = []
    max_body_bytes: int = Field(default=65_536, ge=1024)
    cors_origins: Annotated[list[str], NoDecode] = []
    hibp_enabled: bool = False
    hibp_url: str = "https://api.pwnedpasswords.com/range/"
    hibp_timeout_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def split_comma_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("cors_origins", "trusted_proxies", "CORS_ORIGINS", "TRUSTED_PROXIES"):
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = [item.strip() for item in value.split(",") if item.strip()]
        return data

    @field_validator(*RATE_LIMITS)
    @classmethod
    def require_a_rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError as error:
            raise ValueError("must be a rate such as '10/minute' or '100/hour'") from error
        return value

    @field_validator("db_url")
    @classmethod
    def require_a_known_database(cls, value: SecretStr | None) -> SecretStr | None:
        """`postgresql://` and `postgres://` mean asyncpg, `sqlite://` aiosqlite: the
        drivers this package ships with."""
        if value is None or not value.get_secret_value():
            return None
        try:
            url = make_url(value.get_secret_value())
        except ArgumentError as error:
            raise ValueError(
                "is not a database URL; use postgresql://user:password@host:5432/name or "
                "sqlite:///./auth.db"
            ) from error
        driver = DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"the scheme {url.drivername!r} is not supported; use postgresql:// "
                "(asyncpg) or sqlite:// (aiosqlite)"
            )
        return SecretStr(url.set(drivername=driver).render_as_string(hide_password=False))

    @model_validator(mode="after")
    def refuse_unsafe_production(self) -> Settings:
        if self.environment != "production":
            return self
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_BYTES} bytes "
                "in production (python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if urlsplit(self.public_url).hostname in LOCAL_HOSTS:
            raise ValueError(
                "FRONTEND_URL must be the public address users reach in production "
                "(every emailed link starts with it), not localhost"
            )
        return self

    @property
    def public_url(self) -> str:
        """The base of every emailed link."""
        return (self.frontend_url or DEFAULT_FRONTEND_URL).rstrip("/")

    @cached_property
    def database_url(self) -> URL:
        if self.db_url:
            return make_url(self.db_url.get_secret_value())
        if self.postgres_server:
            return URL.create(
                "postgresql+asyncpg",
                username=self.postgres_user,
                password=self.postgres_password.get_secret_value() or None,
                host=self.postgres_server,
                port=self.postgres_port,
                database=self.postgres_db,
            )
        return make_url("sqlite+aiosqlite:///./auth.db")

    @cached_property
    def signing_secret(self) -> str:
        """The key for JWTs and itsdangerous tokens; random per process when unset."""
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value():
            return self.jwt_secret.get_secret_value()
        logger.warning(
            "JWT_SECRET is not set: using a random key for this process only. Tokens will not "
            "survive a restart nor work across instances. Set JWT_SECRET in production."
        )
        return secrets.token_urlsafe(48)

    @property
    def smtp_starttls(self) -> bool | None:
        """None lets aiosmtplib use STARTTLS when the server offers it."""
        if self.email_ssl:
            return False
        return self.email_starttls

    @property
    def access_token_seconds(self) -> int:
        return self.access_token_expire_minutes * 60

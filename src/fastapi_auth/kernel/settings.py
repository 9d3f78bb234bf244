"""One settings object, read from the environment and `.env`.

Every setting has a default that runs on a laptop; production refuses the
defaults that would be unsafe there (a missing or placeholder secret).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import unicodedata
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from fastapi_auth.kernel.branding import (
    DEFAULT_APP_NAME,
    DEFAULT_PRIMARY_COLOR,
    css_hex_color,
    display_name,
    web_address,
)

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


NUMERIC_POSTGRES_OPTIONS = frozenset({"prepared_statement_cache_size", "command_timeout"})
POSTGRES_OPTIONS = frozenset({"ssl", "target_session_attrs", *NUMERIC_POSTGRES_OPTIONS})


def _asyncpg_options(query: Mapping[str, str | tuple[str, ...]]) -> dict[str, str]:
    """The URL's options as asyncpg takes them: libpq's `sslmode=require` is its `ssl`."""
    options: dict[str, str] = {}
    for name, value in query.items():
        text = value if isinstance(value, str) else value[-1]
        name = "ssl" if name == "sslmode" else name
        if name not in POSTGRES_OPTIONS:
            raise ValueError(
                f"the option {name!r} is not one asyncpg takes; use "
                + ", ".join(sorted(POSTGRES_OPTIONS | {"sslmode"}))
            )
        if name in NUMERIC_POSTGRES_OPTIONS and not text.replace(".", "", 1).isdigit():
            raise ValueError(f"the option {name!r} must be a number")
        options[name] = text
    return options


def describe(error: ValidationError) -> str:
    """A configuration error as one line per setting: its variable, what is wrong, and
    (in the message) the fix; never the value, which may be a secret."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        names = [str(part).upper() for part in item["loc"] if isinstance(part, str)]
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{names[0]}: {message}" if names else message)
    return "configuration error: " + "; ".join(lines)


class ConfigurationError(ValueError):
    """A setting well-formed but unusable, found once the parts it configures are built
    (a template in EMAIL_TEMPLATES_DIR using a variable it is not given). Its text is one
    line naming the variable, as `describe`'s are; the app refuses to start with it."""


def _is_local(host: str | None) -> bool:
    if host is None or host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    environment: Literal["local", "test", "production"] = "local"
    app_name: str = DEFAULT_APP_NAME
    """The name people see (emails, pages, the docs' title), in no token: the tokens'
    issuer is `jwt_issuer`, so a rename logs nobody out."""
    project_name: str | None = None
    """Deprecated: APP_NAME's old name, read (with a warning) only when APP_NAME is unset."""
    app_logo_url: str | None = None
    app_primary_color: str = DEFAULT_PRIMARY_COLOR
    sign_in_url: str | None = None
    """Where people sign in (the host's app): linked from the page a successful email
    verification or password reset answers, and given to every email template."""
    email_templates_dir: Path | None = None
    """Templates here override the bundled ones of the same name (docs/email-templates.md)."""
    jwt_issuer: str | None = None
    """The access token's `iss`; unset, the public address (`FRONTEND_URL`)."""
    jwt_audience: str = "fastapi-auth"

    db_url: SecretStr | None = None
    """A secret: it may carry the database's password."""
    postgres_server: str | None = None
    postgres_port: PORT = 5432
    postgres_user: str = "postgres"
    postgres_password: SecretStr = SecretStr("")
    postgres_db: str = "app"
    db_pool_size: int = Field(default=10, ge=1)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)

    jwt_secret: SecretStr | None = None
    access_token_expire_minutes: int = Field(default=15, ge=1)
    refresh_token_expire_days: int = Field(default=30, ge=1)
    max_sessions_per_user: int = Field(default=100, ge=1)
    verify_token_expire_hours: int = Field(default=24, ge=1)
    reset_token_expire_minutes: int = Field(default=60, ge=1)
    email_change_cancel_days: int = Field(default=7, ge=1)

    mfa_encryption_key: SecretStr | None = None
    """Encrypts authenticator apps' secrets at rest; unset, a key derived from
    `JWT_SECRET` under a purpose label of its own."""
    webauthn_rp_id: str | None = None
    """Unset: the host of `FRONTEND_URL`."""
    webauthn_rp_name: str | None = None
    """Unset: `EMAIL_FROM_NAME`."""
    webauthn_origins: Annotated[list[str], NoDecode] = []
    """Unset: the origin of `FRONTEND_URL`."""

    password_min_length: int = Field(default=8, ge=8, le=128)
    """The contract's floor (and NIST SP 800-63B-4's for passwords used with a second
    factor) is 8, which the request schema enforces everywhere; 15 is NIST's minimum for
    a password that is the only factor. Never below 8, so the published schema's
    `minLength` stays true; at most the maximum length, 128."""

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
            for key in (
                "cors_origins",
                "trusted_proxies",
                "webauthn_origins",
                "CORS_ORIGINS",
                "TRUSTED_PROXIES",
                "WEBAUTHN_ORIGINS",
            ):
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = [item.strip() for item in value.split(",") if item.strip()]
        return data

    @field_validator(*RATE_LIMITS)
    @classmethod
    def require_a_rate(cls, value: str) -> str:
        try:
            rate = parse(value)
        except ValueError as error:
            raise ValueError("must be a rate such as '10/minute' or '100/hour'") from error
        if rate.amount < 1:
            raise ValueError(
                "must allow at least one request (RATE_LIMIT_ENABLED=false turns limits off)"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def require_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as error:
                raise ValueError(
                    f"{item!r} is not an address or network; use e.g. 10.0.0.0/8,127.0.0.1"
                ) from error
        return value

    @field_validator("cors_origins", "webauthn_origins")
    @classmethod
    def require_origins(cls, value: list[str]) -> list[str]:
        """Credentials are allowed, so `*` (any site reading answers with the user's
        tokens) is refused; each origin is a scheme and a host."""
        for item in value:
            parts = urlsplit(item)
            if item == "*" or parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"{item!r} is not an origin; list them, e.g. https://app.example.com"
                )
        return value

    @field_validator("frontend_url")
    @classmethod
    def require_a_web_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) address such as https://accounts.example.com")
        return value

    @model_validator(mode="before")
    @classmethod
    def read_deprecated_project_name(cls, data: object) -> object:
        """PROJECT_NAME was the display name and the token issuer at once; it still names
        the product (never the issuer) until APP_NAME is set."""
        if isinstance(data, dict) and data.get("project_name") and not data.get("app_name"):
            logger.warning("PROJECT_NAME is deprecated: set APP_NAME (the name people see)")
            data["app_name"] = data["project_name"]
        return data

    @field_validator("app_name")
    @classmethod
    def require_a_display_name(cls, value: str) -> str:
        return display_name(value)

    @field_validator("app_primary_color")
    @classmethod
    def require_a_hex_color(cls, value: str) -> str:
        return css_hex_color(value)

    @field_validator("app_logo_url", "sign_in_url")
    @classmethod
    def require_an_absolute_web_address(cls, value: str | None) -> str | None:
        return web_address(value)

    @field_validator("email_templates_dir")
    @classmethod
    def require_a_directory(cls, value: Path | None) -> Path | None:
        """Refused at start rather than found missing by the first email: a typo in the
        path would otherwise send the bundled texts without a word."""
        if value is None or not str(value).strip():
            return None
        if not value.is_dir():
            raise ValueError(f"{str(value)!r} is not a directory (it must exist)")
        return value.resolve()

    @field_validator("jwt_issuer", "jwt_audience")
    @classmethod
    def require_a_claim_value(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.field_name == "jwt_issuer" and (value is None or not value.strip()):
            return None
        value = (value or "").strip()
        if not value or any(unicodedata.category(char) == "Cc" for char in value):
            raise ValueError("must be a non-empty string, such as https://accounts.example.com")
        return value

    @field_validator("redis_url")
    @classmethod
    def require_a_redis_address(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        try:
            parts = urlsplit(value.get_secret_value().removeprefix("async+"))
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("redis", "rediss", "unix") or port == -1:
            raise ValueError("must be redis://host:6379/0 (rediss:// for TLS, unix:// a socket)")
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
        if url.port is not None and not 1 <= url.port <= 65535:
            raise ValueError(f"the port {url.port} is not a port (1 to 65535)")
        if driver.startswith("sqlite"):
            if url.database in (None, "", ":memory:"):
                raise ValueError(
                    "an in-memory SQLite database is a new, empty one for every connection; "
                    "name a file, e.g. sqlite:///./auth.db"
                )
        else:
            url = url.set(query=_asyncpg_options(url.query))
        return SecretStr(url.set(drivername=driver).render_as_string(hide_password=False))

    @model_validator(mode="after")
    def require_origins_of_the_relying_party(self) -> Settings:
        """A browser refuses a passkey whose RP id is not the page's host or a parent
        domain of it: a mismatch would only show up as every passkey failing."""
        rp_id = self.relying_party_id
        for origin in self.relying_party_origins:
            host = urlsplit(origin).hostname or ""
            if host != rp_id and not host.endswith(f".{rp_id}"):
                raise ValueError(
                    f"WEBAUTHN_RP_ID {rp_id!r} must be the host of every WEBAUTHN_ORIGINS "
                    f"entry or a parent domain of it, and {origin!r} is not"
                )
        return self

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
        if _is_local(urlsplit(self.public_url).hostname):
            raise ValueError(
                "FRONTEND_URL must be the public address users reach in production "
                "(every emailed link starts with it), not localhost"
            )
        return self

    @property
    def public_url(self) -> str:
        """The base of every emailed link."""
        return (self.frontend_url or DEFAULT_FRONTEND_URL).rstrip("/")

    @property
    def token_issuer(self) -> str:
        """The access token's `iss`: `JWT_ISSUER`, else the public address; never the
        display name, so renaming the product logs nobody out."""
        return self.jwt_issuer or self.public_url

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
    def relying_party_id(self) -> str:
        return self.webauthn_rp_id or urlsplit(self.public_url).hostname or "localhost"

    @property
    def relying_party_name(self) -> str:
        return self.webauthn_rp_name or self.email_from_name

    @property
    def relying_party_origins(self) -> list[str]:
        if self.webauthn_origins:
            return self.webauthn_origins
        parts = urlsplit(self.public_url)
        return [f"{parts.scheme}://{parts.netloc}"]

    @property
    def smtp_starttls(self) -> bool | None:
        """None lets aiosmtplib use STARTTLS when the server offers it."""
        if self.email_ssl:
            return False
        return self.email_starttls

    @property
    def access_token_seconds(self) -> int:
        return self.access_token_expire_minutes * 60

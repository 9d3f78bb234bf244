"""Settings: every variable documented, unsafe production refused, URLs built as documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fastapi_auth.kernel.settings import Settings, describe

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"
INTERNAL_ONLY = {"PROJECT_NAME", "HIBP_URL"}


def test_env_example_lists_every_setting() -> None:
    documented = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))
    expected = {name.upper() for name in Settings.model_fields} - INTERNAL_ONLY
    assert expected - documented == set()
    assert documented - expected - INTERNAL_ONLY == set()


@pytest.mark.parametrize("secret", [None, "changethis", "short-but-not-placeholder"])
def test_production_refuses_a_missing_or_weak_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None, environment="production", jwt_secret=secret)


def test_production_accepts_a_long_random_secret() -> None:
    settings = Settings(
        _env_file=None,
        environment="production",
        jwt_secret="k" * 48,
        frontend_url="https://accounts.example.com",
    )
    assert settings.signing_secret == "k" * 48


@pytest.mark.parametrize(
    "frontend_url",
    [
        None,
        "http://localhost:8000",
        "http://127.0.0.1:9000",
        "http://127.0.0.2",
        "http://[::1]/",
        "http://0.0.0.0:8000",
        "http://app.localhost",
    ],
)
def test_production_refuses_a_local_frontend_url(frontend_url: str | None) -> None:
    """Every emailed link starts with it: users could not follow one."""
    with pytest.raises(ValidationError, match="FRONTEND_URL"):
        Settings(
            _env_file=None,
            environment="production",
            jwt_secret="k" * 48,
            frontend_url=frontend_url,
        )


SECRETS: dict[str, Any] = {
    "jwt_secret": "short-secret-value",
    "email_password": "smtp-password-value",
    "postgres_password": "pg-password-value",
    "db_url": "postgresql://app:db-url-password@db:5432/app",
    "redis_url": "redis://:redis-password@cache:6379/0",
}


def test_a_configuration_error_shows_no_secret_value() -> None:
    """A short JWT_SECRET in production, with every other secret set: neither the
    error nor its one-line description shows a value."""
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, environment="production", **SECRETS)
    described = describe(raised.value)
    assert described.startswith("configuration error: JWT_SECRET must be set")
    for text in (str(raised.value), repr(raised.value), described):
        for value in ("short-secret-value", "smtp-password-value", "pg-password-value"):
            assert value not in text
        assert "db-url-password" not in text
        assert "redis-password" not in text
    settings = Settings(_env_file=None, **SECRETS)
    for value in SECRETS.values():
        assert value not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RATE_LIMIT_LOGIN", "lots", "RATE_LIMIT_LOGIN: must be a rate such as"),
        ("EMAIL_PORT", "99999", "EMAIL_PORT: Input should be less than or equal to 65535"),
        ("DB_URL", "not a url", "DB_URL: is not a database URL"),
        ("DB_URL", "mysql://root@db/app", "DB_URL: the scheme 'mysql' is not supported"),
        ("LOCKOUT_THRESHOLD", "none", "LOCKOUT_THRESHOLD: Input should be a valid integer"),
        ("RATE_LIMIT_LOGIN", "0/minute", "RATE_LIMIT_LOGIN: must allow at least one request"),
        ("TRUSTED_PROXIES", "not-a-network", "TRUSTED_PROXIES: 'not-a-network' is not an"),
        ("TRUSTED_PROXIES", "10.0.0.0/33", "TRUSTED_PROXIES: '10.0.0.0/33' is not an"),
        ("CORS_ORIGINS", "*", "CORS_ORIGINS: '*' is not an origin"),
        ("FRONTEND_URL", "notaurl", "FRONTEND_URL: must be an http(s) address"),
        ("REDIS_URL", "notaurl", "REDIS_URL: must be redis://host:6379/0"),
        ("REDIS_URL", "redis://cache:99999/0", "REDIS_URL: must be redis://host:6379/0"),
        ("DB_URL", "postgresql://app@db:99999/app", "DB_URL: the port 99999 is not a port"),
        ("DB_URL", "postgresql://app@db/app?bogus=1", "DB_URL: the option 'bogus' is not"),
        ("DB_URL", "sqlite://", "DB_URL: an in-memory SQLite database is a new, empty one"),
        ("DB_POOL_SIZE", "-1", "DB_POOL_SIZE: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    described = describe(raised.value)
    assert says in described, described
    assert "\n" not in described
    if variable not in {"DB_URL", "TRUSTED_PROXIES", "CORS_ORIGINS"}:
        assert value not in described


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
def test_postgresql_urls_choose_asyncpg(scheme: str) -> None:
    settings = Settings(_env_file=None, db_url=f"{scheme}://app:pw@db.internal:5432/accounts")
    assert settings.database_url.drivername == "postgresql+asyncpg"
    assert settings.database_url.password == "pw"


def test_unset_secret_is_random_per_process(caplog: pytest.LogCaptureFixture) -> None:
    first = Settings(_env_file=None).signing_secret
    second = Settings(_env_file=None).signing_secret
    assert first != second
    assert "JWT_SECRET is not set" in caplog.text


def test_database_url_defaults_to_sqlite_and_builds_postgres_from_parts() -> None:
    assert Settings(_env_file=None).database_url.render_as_string() == (
        "sqlite+aiosqlite:///./auth.db"
    )
    built = Settings(
        _env_file=None,
        postgres_server="db.internal",
        postgres_user="auth",
        postgres_password="s3cret",
        postgres_db="accounts",
    ).database_url
    assert built.render_as_string(hide_password=False) == (
        "postgresql+asyncpg://auth:s3cret@db.internal:5432/accounts"
    )


def test_comma_separated_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8")
    settings = Settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == ["10.0.0.0/8"]


def test_libpq_sslmode_is_asyncpgs_ssl() -> None:
    settings = Settings(_env_file=None, db_url="postgresql://app@db.internal/app?sslmode=require")
    assert settings.database_url.query == {"ssl": "require"}

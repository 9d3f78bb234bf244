"""Settings: every variable documented, unsafe production refused, URLs built as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from fastapi_auth.settings import Settings

ENV_EXAMPLE = Path(__file__).parent.parent / ".env.example"
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
    settings = Settings(_env_file=None, environment="production", jwt_secret="k" * 48)
    assert settings.signing_secret == "k" * 48


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

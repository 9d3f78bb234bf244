"""The branding settings are validated when read: each value is written into HTML, CSS or
the pages' policy, so anything looser than its form is refused, in one line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fastapi_auth.kernel.settings import Settings, describe


@pytest.mark.parametrize(
    "value",
    [
        "red",
        "#12345",
        "#1234567",
        "#ggg",
        "1d4ed8",
        "#123;}body{display:none",
        "#123 ",
        "#123\n",
        "rgb(0,0,0)",
        "var(--x)",
    ],
)
def test_the_colour_is_a_hex_colour_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("APP_PRIMARY_COLOR", value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert describe(raised.value) == (
        "configuration error: APP_PRIMARY_COLOR: must be a CSS hex colour, #rgb or #rrggbb, "
        "such as #1d4ed8"
    )


@pytest.mark.parametrize("value", ["#abc", "#ABCDEF", "#1d4ed8"])
def test_a_hex_colour_is_kept_lower_case(value: str) -> None:
    assert Settings(_env_file=None, app_primary_color=value).app_primary_color == value.lower()


@pytest.mark.parametrize("variable", ["APP_LOGO_URL", "SIGN_IN_URL"])
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("javascript:alert(1)", "must be an absolute http(s) address"),
        ("data:image/png;base64,AAAA", "must be an absolute http(s) address"),
        ("//cdn.example.com/logo.png", "must be an absolute http(s) address"),
        ("/static/logo.png", "must be an absolute http(s) address"),
        ("https://cdn.example.com/a logo.png", "percent-encode spaces and quotes"),
        ('https://cdn.example.com/"onerror="x', "percent-encode spaces and quotes"),
        ("https://cdn.example.com/x'y", "percent-encode spaces and quotes"),
        ("https://cdn.example.com\\@good.example/", "percent-encode spaces and quotes"),
        ("https://cdn.example.com;img-src:*/x", "must be an absolute http(s) address"),
        ("https://user:pw@cdn.example.com/logo.png", "must not hold a user name or password"),
        ("https://cdn.example.com:99999/logo.png", "must be an absolute http(s) address"),
        ("https://cdn_example.com/logo.png", "must be an absolute http(s) address"),
    ],
)
def test_addresses_are_absolute_http_urls_with_a_plain_host(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    described = describe(raised.value)
    assert described.startswith(f"configuration error: {variable}: ")
    assert says in described


def test_addresses_unset_or_empty_are_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_LOGO_URL", "")
    settings = Settings(_env_file=None)
    assert (settings.app_logo_url, settings.sign_in_url) == (None, None)
    ok = Settings(_env_file=None, app_logo_url="http://[2001:db8::1]:8080/l.png")
    assert ok.app_logo_url == "http://[2001:db8::1]:8080/l.png"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("APP_NAME", "", "APP_NAME: must not be empty"),
        ("APP_NAME", "x" * 101, "APP_NAME: must be at most 100 characters"),
        ("APP_NAME", "Acme\r\nBcc: x@example.com", "APP_NAME: must not contain control"),
        ("APP_NAME", "Acme\u202eevil", "APP_NAME: must not contain control"),
        ("JWT_AUDIENCE", " ", "JWT_AUDIENCE: must be a non-empty string"),
        ("JWT_ISSUER", "iss\x07", "JWT_ISSUER: must be a non-empty string"),
    ],
)
def test_names_and_claims_are_one_line_of_text(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert says in describe(raised.value)

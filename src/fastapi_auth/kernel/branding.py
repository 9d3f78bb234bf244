"""What people see of the product: its name, logo, colour and where to sign in.

None of it is in a token. The access token's issuer and audience are settings of their
own (`JWT_ISSUER`, `JWT_AUDIENCE`), so renaming the product, or changing its logo, logs
nobody out.

The pages carry a strict Content-Security-Policy, and branding must not loosen it more
than it needs: the colour reaches the pages as a CSS custom property in one `<style>`
element the policy allows by its hash (never `'unsafe-inline'`), and a logo's origin is
added to `img-src` only, only when a logo is set. Every value is validated when the
settings are read, so none can end the element, the attribute or the policy it is
written into.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi_auth.kernel.page_policy import page_csp

if TYPE_CHECKING:
    from fastapi_auth.kernel.settings import Settings

DEFAULT_APP_NAME = "fastapi-auth"
DEFAULT_PRIMARY_COLOR = "#1d4ed8"
"""A blue near a browser's own link colour, with AA contrast both ways: as text on white
(emails' links) and under white text (the pages' buttons)."""
APP_NAME_MAX_LENGTH = 100

HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
"""RFC 3986's characters, less the quote: nothing that could end an attribute, and no
space, backslash or control character a browser would read differently from Python."""
HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def display_name(value: str) -> str:
    """The name shown in every email and page (and email subjects an override writes):
    one line, no control characters or bidirectional overrides that could hide or reorder
    what it says."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > APP_NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {APP_NAME_MAX_LENGTH} characters")
    if any(unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS for char in value):
        raise ValueError("must not contain control characters or bidirectional overrides")
    return value


def css_hex_color(value: str) -> str:
    """Only `#rgb` or `#rrggbb`: the value is written into CSS and HTML attributes, so
    anything looser (names, `rgb()`, a `;`) is refused rather than escaped."""
    if not HEX_COLOR.fullmatch(value):
        raise ValueError("must be a CSS hex colour, #rgb or #rrggbb, such as #1d4ed8")
    return value.lower()


def web_address(value: str | None) -> str | None:
    """An absolute http(s) address with a plain host, no user or password in it; unset
    (or empty) is None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    problem = "must be an absolute http(s) address such as https://www.example.com/logo.png"
    if not URL_CHARACTERS.fullmatch(value):
        raise ValueError(problem + " (percent-encode spaces and quotes)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError as error:
        raise ValueError(problem) from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(problem)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password")
    if not _plain_host(parts.hostname):
        raise ValueError(problem)
    return value


def _plain_host(host: str) -> bool:
    if HOSTNAME.fullmatch(host):
        return True
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a validated address: what a CSP source names."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def _luminance(color: str) -> float:
    """WCAG 2's relative luminance of a validated `#rgb` or `#rrggbb`."""
    digits = color[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    channels = []
    for index in (0, 2, 4):
        value = int(digits[index : index + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def readable_on(color: str) -> str:
    """White or near-black, whichever contrasts more with `color`: a button's text stays
    readable whatever colour a team picks."""
    luminance = _luminance(color)
    on_white = 1.05 / (luminance + 0.05)
    on_dark = (luminance + 0.05) / (_luminance("#111111") + 0.05)
    return "#ffffff" if on_white >= on_dark else "#111111"


@dataclass(frozen=True)
class Branding:
    """Built once from the settings (`main.build_runtime`), handed to the pages, the
    emails and the pages' policy."""

    app_name: str = DEFAULT_APP_NAME
    logo_url: str | None = None
    primary_color: str = DEFAULT_PRIMARY_COLOR
    sign_in_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Branding:
        return cls(
            app_name=settings.app_name,
            logo_url=settings.app_logo_url,
            primary_color=settings.app_primary_color,
            sign_in_url=settings.sign_in_url,
        )

    @property
    def page_style(self) -> str:
        """The one `<style>` element's text on every page; the policy names its hash."""
        on_primary = readable_on(self.primary_color)
        return f":root{{--fa-primary:{self.primary_color};--fa-on-primary:{on_primary}}}"

    @property
    def page_csp(self) -> str:
        """The pages' policy: today's, plus the style element's hash, plus the logo's
        origin for images when there is a logo; nothing else changes."""
        digest = hashlib.sha256(self.page_style.encode()).digest()
        extra: dict[str, tuple[str, ...]] = {
            "style-src": (f"'sha256-{base64.b64encode(digest).decode()}'",)
        }
        if self.logo_url is not None:
            extra["img-src"] = (origin_of(self.logo_url),)
        return page_csp(extra)

    @property
    def template_variables(self) -> Mapping[str, str | None]:
        """What every email template and page gets, whatever else it is given."""
        return {
            "app_name": self.app_name,
            "logo_url": self.logo_url,
            "primary_color": self.primary_color,
            "sign_in_url": self.sign_in_url,
        }

"""The optional Have I Been Pwned check of new passwords (NIST 800-63B's breached list).

k-anonymity: only the first five hex digits of the password's SHA-1 leave the
process, and `Add-Padding` makes every answer the same size, so neither the
password nor whether it matched can be read off the wire. The check fails
open: an unreachable or slow service logs a warning and lets the password
through, because the bundled common-password list still applies and an outage
elsewhere must not stop sign-ups.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

import httpx

from fastapi_auth.kernel.errors import WeakPassword
from fastapi_auth.kernel.settings import Settings

logger = logging.getLogger("fastapi_auth.breached_passwords")

BREACHED = "This password has appeared in a data breach, so attackers try it first; choose another."


class BreachedPasswordChecker(Protocol):
    async def is_breached(self, password: str) -> bool: ...

    async def aclose(self) -> None: ...


class NoBreachCheck:
    """Used when `HIBP_ENABLED` is false: only the bundled list applies."""

    async def is_breached(self, password: str) -> bool:
        return False

    async def aclose(self) -> None:
        return None


class PwnedPasswordsChecker:
    def __init__(self, range_url: str, timeout_seconds: float) -> None:
        self.range_url = range_url if range_url.endswith("/") else range_url + "/"
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds,
            headers={"Add-Padding": "true", "User-Agent": "fastapi-auth"},
            follow_redirects=False,
        )

    async def is_breached(self, password: str) -> bool:
        digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:5], digest[5:]
        try:
            response = await self._client.get(self.range_url + prefix)
            response.raise_for_status()
        except httpx.HTTPError as error:
            logger.warning(
                "Pwned Passwords range API failed (%s); accepting the password unchecked",
                type(error).__name__,
            )
            return False
        for line in response.text.splitlines():
            candidate, _, count = line.strip().partition(":")
            if candidate.upper() == suffix:
                return count.strip().isdigit() and int(count) > 0
        return False

    async def aclose(self) -> None:
        await self._client.aclose()


def build_breached_password_checker(settings: Settings) -> BreachedPasswordChecker:
    if not settings.hibp_enabled:
        return NoBreachCheck()
    return PwnedPasswordsChecker(settings.hibp_url, settings.hibp_timeout_seconds)


async def refuse_breached(checker: BreachedPasswordChecker, password: str, field: str) -> None:
    """Raise `WeakPassword` (422 on `field`) when the password is known to be breached."""
    if await checker.is_breached(password):
        raise WeakPassword(BREACHED, field)

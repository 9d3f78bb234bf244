"""What makes a new password acceptable (NIST 800-63B: length, not breached, not the email).

The bundled list (see its header for the source) is checked everywhere, synchronously;
the optional Have I Been Pwned check lives in `breached_passwords` because it needs I/O.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def password_weakness(password: str, email: str | None = None) -> str | None:
    """The reason a new password is refused, or None when it is acceptable."""
    if any(unicodedata.category(char) == "Cc" for char in password):
        return "The password must not contain control characters."
    if password.casefold() in common_passwords():
        return "This password is too common; choose another."
    if email is not None:
        folded = password.casefold()
        if folded == email.casefold() or folded == email.partition("@")[0].casefold():
            return "The password must not be your email address."
    return None

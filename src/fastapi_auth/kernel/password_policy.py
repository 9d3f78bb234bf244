"""What makes a new password acceptable (NIST SP 800-63B: length, not breached, not the email).

The contract's rules (8 to 128 characters, no control characters, not on the bundled
list, not the email) are checked twice: by the request schema (`fields.NewPassword`),
which is static and so knows only the contract's floor of 8, and at request time by
`PasswordRules`, which also applies what is configured per app: `PASSWORD_MIN_LENGTH`,
the host's own `PasswordPolicy`, and the optional Have I Been Pwned check (in
`breached_passwords`, because it needs I/O). See the bundled list's header for its source.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path
from typing import Protocol

from fastapi_auth.kernel.breached_passwords import BreachedPasswordChecker, refuse_breached
from fastapi_auth.kernel.errors import PasswordTooShort, WeakPassword

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
    """The reason a new password is refused by the contract's rules other than length,
    or None when it is acceptable."""
    if any(unicodedata.category(char) == "Cc" for char in password):
        return "The password must not contain control characters."
    if password.casefold() in common_passwords():
        return "This password is too common; choose another."
    if email is not None:
        folded = password.casefold()
        if folded == email.casefold() or folded == email.partition("@")[0].casefold():
            return "The password must not be your email address."
    return None


class PasswordPolicy(Protocol):
    """A host's own rule for new passwords, on top of the standard ones (which it cannot
    loosen). Async, as the breached-password check is: a policy may ask a service.

    Returns the reason shown to the user (the 422's `msg`, the reset page's error), or
    None to accept. The reason must not repeat the password."""

    async def weakness(self, password: str, *, email: str | None) -> str | None: ...


class StandardPasswordPolicy:
    """The contract's rules with the configured minimum length: what every new password
    meets, whatever else a host adds."""

    def __init__(self, min_length: int = MIN_PASSWORD_LENGTH) -> None:
        if not MIN_PASSWORD_LENGTH <= min_length <= MAX_PASSWORD_LENGTH:
            # The schema refuses under 8 and over 128 before any policy runs: a length
            # outside would silently mean something else.
            raise ValueError(
                f"min_length must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH}, "
                f"not {min_length}"
            )
        self.min_length = min_length

    def refusal(self, password: str, *, email: str | None, field: str) -> WeakPassword | None:
        """The error for `field`, or None. Too short is `PasswordTooShort`, answered as
        the schema answers a password under 8, so clients read one shape for both."""
        if len(password) < self.min_length:
            return PasswordTooShort(self.min_length, field)
        reason = password_weakness(password, email)
        return WeakPassword(reason, field) if reason else None

    async def weakness(self, password: str, *, email: str | None) -> str | None:
        refusal = self.refusal(password, email=email, field="password")
        return refusal.message if refusal is not None else None


class PasswordRules:
    """The one check every new password goes through (registration, reset, first
    password, change), in order: the standard rules, the host's policy, then the
    breached-password check, the only one that may leave the process, last."""

    def __init__(
        self,
        standard: StandardPasswordPolicy,
        breached: BreachedPasswordChecker,
        policy: PasswordPolicy | None = None,
    ) -> None:
        self.standard = standard
        self.breached = breached
        self.policy = policy

    @property
    def min_length(self) -> int:
        return self.standard.min_length

    async def refuse_weak(
        self, password: str, *, email: str | None, field: str = "new_password"
    ) -> None:
        """Raise `WeakPassword` (422 on `field`) when the password is not acceptable."""
        refusal = self.standard.refusal(password, email=email, field=field)
        if refusal is not None:
            raise refusal
        if self.policy is not None:
            reason = await self.policy.weakness(password, email=email)
            if reason:
                raise WeakPassword(reason, field)
        await refuse_breached(self.breached, password, field)

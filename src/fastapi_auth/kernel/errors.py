"""The errors services raise: each one a status and a `code`, and nothing else of HTTP.

Services raise `DomainError` subclasses; they know nothing of HTTP beyond the status
each error stands for. `error_handlers.py` turns them (and every other error) into
`{"detail", "code"}`, and routers list theirs in `responses=` through `error_responses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel


class ErrorBody(BaseModel):
    detail: str
    code: str


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    detail: ClassVar[str] = "The request could not be processed."
    headers: ClassVar[Mapping[str, str]] = {}
    response_headers: ClassVar[tuple[str, ...]] = ()
    """Headers set per response (not in `headers`), named so the schema documents them."""
    commit_changes: ClassVar[bool] = False
    """True where the refusal itself changed state that must last (a revoked session,
    a logged failure); otherwise the request's transaction rolls back."""
    body_model: ClassVar[type[BaseModel]] = ErrorBody
    """The body's schema, for the OpenAPI entry: `ErrorBody`, or a subclass naming the
    fields an error adds (`extra_body`)."""

    def __init__(self, detail: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.message = detail or self.detail
        self.extra_headers = dict(headers or {})
        self.extra_body: dict[str, Any] = {}
        super().__init__(self.message)


class NotAuthenticated(DomainError):
    status_code = 401
    code = "NOT_AUTHENTICATED"
    detail = "Authentication is required."
    headers = {"WWW-Authenticate": "Bearer"}


class InvalidAccessToken(DomainError):
    status_code = 401
    code = "INVALID_TOKEN"
    detail = "The access token is invalid, expired or revoked."
    headers = {"WWW-Authenticate": "Bearer"}


class InvalidRefreshToken(DomainError):
    status_code = 401
    code = "INVALID_TOKEN"
    detail = "The refresh token is invalid, expired or already used."
    headers = {"WWW-Authenticate": "Bearer"}


class InvalidLinkToken(DomainError):
    status_code = 400
    code = "INVALID_TOKEN"
    detail = "The link is invalid, has expired or was already used."


class InvalidCredentials(DomainError):
    status_code = 401
    code = "INVALID_CREDENTIALS"
    detail = "The email or password is incorrect."
    headers = {"WWW-Authenticate": "Bearer"}
    commit_changes = True


class EmailNotVerified(DomainError):
    status_code = 403
    code = "EMAIL_NOT_VERIFIED"
    detail = "Verify your email address before logging in."


class AccountDisabled(DomainError):
    status_code = 403
    code = "ACCOUNT_DISABLED"
    detail = "This account is disabled."


class EmailTaken(DomainError):
    status_code = 409
    code = "EMAIL_TAKEN"
    detail = "That email address belongs to another account."


class InvalidPassword(DomainError):
    """Commits: the failed check's security event must stay (nothing else of the request
    has been written when a password is checked)."""

    status_code = 400
    code = "INVALID_PASSWORD"
    detail = "The current password is incorrect."
    commit_changes = True


class WeakPassword(DomainError):
    """Rendered in FastAPI's 422 shape, like every other invalid field."""

    status_code = 422
    code = "WEAK_PASSWORD"
    error_type: ClassVar[str] = "weak_password"
    """The item's `type` in that shape."""

    def __init__(self, reason: str, field: str = "new_password") -> None:
        super().__init__(reason)
        self.field = field
        self.context: dict[str, int] = {}
        """The item's `ctx`, when it has one."""


class PasswordTooShort(WeakPassword):
    """Shorter than `PASSWORD_MIN_LENGTH`: answered word for word as the request schema
    answers a password under the contract's 8 (pydantic's `string_too_short`), so a
    client reads one shape whatever the setting."""

    error_type = "string_too_short"

    def __init__(self, min_length: int, field: str = "new_password") -> None:
        super().__init__(f"String should have at least {min_length} characters", field)
        self.context = {"min_length": min_length}


class InvalidMetadata(DomainError):
    """Raised to the host application's own code (`UserService.set_app_metadata`), which
    has no request body for FastAPI to refuse."""

    status_code = 422
    code = "INVALID_METADATA"
    detail = "Metadata must be a JSON object within its size limit."


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    detail = "Send JSON, or for login an OAuth2 password form."


class NotFound(DomainError):
    status_code = 404
    code = "NOT_FOUND"
    detail = "Not found."


class InvalidCursor(DomainError):
    status_code = 400
    code = "INVALID_CURSOR"
    detail = "The cursor is not one this service returned."


class RateLimited(DomainError):
    status_code = 429
    code = "RATE_LIMITED"
    detail = "Too many requests; try again later."
    response_headers = ("Retry-After",)

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    detail = "The service is temporarily unavailable; try again shortly."
    headers = {"Retry-After": "5"}


class SchemaOutdated(DomainError):
    """Readiness only: an instance whose tables are missing or behind would fail most
    requests, so a load balancer should send it none until the schema is upgraded."""

    status_code = 503
    code = "SCHEMA_OUTDATED"
    detail = "The database schema is not up to date; run `fastapi-auth db upgrade`."


class MfaRequiredBody(ErrorBody):
    mfa_token: str
    mfa_methods: list[Literal["totp", "recovery_code", "passkey"]]


class MfaRequired(DomainError):
    """The password was right and a second factor is needed. Commits: the login in flight
    (its `mfa_token`) must outlast the answer that hands it out."""

    status_code = 403
    code = "MFA_REQUIRED"
    detail = "A second factor is required: complete the login at /auth/login/mfa."
    commit_changes = True
    body_model = MfaRequiredBody

    def __init__(self, mfa_token: str, methods: list[str]) -> None:
        super().__init__()
        self.extra_body = {"mfa_token": mfa_token, "mfa_methods": methods}


class InvalidMfaToken(DomainError):
    """Commits: the attempt it counted stays counted."""

    status_code = 401
    code = "INVALID_TOKEN"
    detail = "The MFA token is invalid, expired or already used; log in again."
    commit_changes = True


class MfaCodeRefused(DomainError):
    """At the login's second step. Commits: the attempt and its `mfa_failed` event."""

    status_code = 401
    code = "INVALID_MFA_CODE"
    detail = "The code is wrong or was already used."
    commit_changes = True


class InvalidMfaCode(DomainError):
    """Confirming or changing a factor, signed in. Commits its `mfa_failed` event."""

    status_code = 400
    code = "INVALID_MFA_CODE"
    detail = "The code is wrong or was already used."
    commit_changes = True


class MfaAlreadyEnabled(DomainError):
    status_code = 409
    code = "MFA_ALREADY_ENABLED"
    detail = "An authenticator app is already set up; disable it first."


class MfaSetupNotStarted(DomainError):
    status_code = 400
    code = "MFA_SETUP_NOT_STARTED"
    detail = "Start the authenticator app's setup first (it ends if a credential changes)."


class MfaNotEnabled(DomainError):
    status_code = 404
    code = "MFA_NOT_ENABLED"
    detail = "There is no second factor to change."


class SecondFactorRequired(DomainError):
    """A host's route behind `require_mfa`, reached with a token from a password alone."""

    status_code = 403
    code = "MFA_REQUIRED_FOR_ROUTE"
    detail = "This needs a login with a second factor; log in again with one."


class InvalidPasskey(DomainError):
    """Registering one: the credential was refused."""

    status_code = 400
    code = "INVALID_PASSKEY"
    detail = "The passkey could not be verified."


class PasskeyRefused(DomainError):
    """Logging in with one. Commits its `mfa_failed` event, if it wrote one."""

    status_code = 401
    code = "INVALID_PASSKEY"
    detail = "The passkey could not be verified."
    commit_changes = True


class PasskeyExists(DomainError):
    status_code = 409
    code = "PASSKEY_EXISTS"
    detail = "This passkey is already registered."

"""The field types every domain's requests share, so an address or a password is checked
the same way wherever it is sent."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_extra_types.phone_numbers import PhoneNumberValidator

from fastapi_auth.kernel.addresses import email_key, local_part_problem
from fastapi_auth.kernel.models.user import EMAIL_LENGTH
from fastapi_auth.kernel.password_policy import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    password_weakness,
)


def normalize_email(value: str) -> str:
    """Lower-cases the domain (email-validator's normal form); the local part keeps its
    case. For an address being looked up (login, a reset): see `new_email` for one being
    given to an account."""
    try:
        normalized = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    if len(email_key(normalized)) > EMAIL_LENGTH:
        raise ValueError(f"must be at most {EMAIL_LENGTH} characters once normalised")
    return normalized


def refuse_look_alike_parts(value: str) -> str:
    """An address given to an account may not mix scripts or hide characters (accounts
    made before this rule can still be looked up and logged in to)."""
    problem = local_part_problem(value.rpartition("@")[0])
    if problem:
        raise ValueError(problem)
    return value


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def refuse_unsafe_text(value: str) -> str:
    """Control characters and bidi overrides can hide or reorder what a name shows in an
    email or a log, and PostgreSQL refuses NUL outright."""
    if any(unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS for char in value):
        raise ValueError("must not contain control characters or bidirectional overrides")
    return value


def refuse_weak_password(value: str) -> str:
    reason = password_weakness(value)
    if reason:
        raise ValueError(reason)
    return value


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=EMAIL_LENGTH),
    AfterValidator(normalize_email),
]
NewEmail = Annotated[Email, AfterValidator(refuse_look_alike_parts)]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    AfterValidator(refuse_weak_password),
]
AnyPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(refuse_unsafe_text),
]
E164_PATTERN = r"\+[1-9][0-9]{6,14}"


def require_e164(value: object) -> object:
    """phonenumbers alone would also accept `tel:+1-415-555-2671` or `+1 415 555 2671` and
    reformat them; the contract takes E.164 only, so anything else is refused as sent."""
    if isinstance(value, str) and re.fullmatch(E164_PATTERN, value) is None:
        raise ValueError("must be in E.164 form: '+', the country code, then digits only")
    return value


PhoneNumber = Annotated[
    str,
    PhoneNumberValidator(number_format="E164"),
    # After PhoneNumberValidator, which builds its own schema and drops constraints placed
    # before it; a later BeforeValidator runs first, on the value as sent.
    BeforeValidator(require_e164),
    Field(examples=["+14155552671"], json_schema_extra={"pattern": f"^{E164_PATTERN}$"}),
]


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields, so `is_verified` cannot be smuggled in."""

    model_config = ConfigDict(extra="forbid")


class MessageResponse(BaseModel):
    detail: str

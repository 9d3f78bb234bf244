"""Who is signed in: the bearer token, checked against its live session.

Two ways to ask, and a route picks by what it does:

- `CurrentPrincipal` / `CurrentUser`: for a route that only reads. The user comes from
  the access check, detached, and no transaction is opened for it (`GET /users/me`
  opens none at all).
- `AttachedPrincipal`: for a route that changes anything. The same user, attached to
  the request's session, so what a service changes on it is written with the rest of
  the request (and a service cannot change a detached copy and lose it). Every route
  that takes the request's session and a principal takes this one; a test holds every
  route to it.

No `from __future__ import annotations` here: FastAPI before 0.123.7 reads a callable
instance's (`BearerSession`'s) string annotations without globals to resolve them in,
and took `request: "HTTPConnection"` for a query parameter (every route behind
`CurrentUser` answered 422).
"""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer

from fastapi_auth.kernel.access_check import LiveSessions
from fastapi_auth.kernel.components import SessionDep, components_of
from fastapi_auth.kernel.errors import (
    AccountDisabled,
    InvalidAccessToken,
    NotAuthenticated,
    SecondFactorRequired,
)
from fastapi_auth.kernel.models import User
from fastapi_auth.kernel.tokens import PASSWORD_ONLY, SECOND_FACTORS, AccessTokenCodec, TokenError


@dataclass(frozen=True)
class Principal:
    user: User
    session_id: uuid.UUID
    amr: tuple[str, ...] = PASSWORD_ONLY
    """How the session's login proved itself (`["pwd"]`, `["pwd", "otp"]`, `["hwk"]`...),
    from the signed token."""

    @property
    def has_second_factor(self) -> bool:
        return not SECOND_FACTORS.isdisjoint(self.amr)


class Authenticator:
    """A bearer token's claims, then its session live in the database."""

    def __init__(self, access_tokens: AccessTokenCodec, live_sessions: LiveSessions) -> None:
        self.access_tokens = access_tokens
        self.live_sessions = live_sessions

    async def principal(self, token: str) -> Principal:
        try:
            claims = self.access_tokens.read(token)
        except TokenError as error:
            raise InvalidAccessToken() from error
        user = await self.live_sessions.user_of(claims.user_id, claims.session_id)
        if user is None:
            raise InvalidAccessToken()
        if not user.is_active:
            raise AccountDisabled()
        return Principal(user=user, session_id=claims.session_id, amr=claims.amr)


class BearerSession(OAuth2PasswordBearer):
    """The OAuth2 bearer scheme (so the OpenAPI schema and the docs' Authorize button show
    it) whose answer is the signed-in principal rather than the raw token.

    One dependency instead of a chain of three (scheme, token check, user): FastAPI's
    dependency solving costs about as much per dependency as the rest of a small request
    does. Needs no session of the request's own, so a read-only route opens no
    transaction."""

    async def __call__(self, request: HTTPConnection) -> Principal:  # type: ignore[override]
        token = await super().__call__(request)
        if not token:
            raise NotAuthenticated()
        return await components_of(request.app).get(Authenticator).principal(token)


SCHEME_NAME = "fastapi_auth"
"""The scheme's name in the OpenAPI schema: not `OAuth2PasswordBearer`, the default name of
a host's own scheme, which would overwrite it (or be overwritten) in the host's docs."""
TOKEN_PATH = "/auth/login"

current_principal = BearerSession(
    tokenUrl=TOKEN_PATH.lstrip("/"), scheme_name=SCHEME_NAME, auto_error=False
)


def token_url_under(prefix: str, schema: dict[str, Any]) -> None:
    """The scheme's `tokenUrl` in `schema` made the login route's path under `prefix`
    (the relative `auth/login` resolves against the docs' own path, not the prefix)."""
    scheme = schema.get("components", {}).get("securitySchemes", {}).get(SCHEME_NAME)
    if scheme is not None:
        scheme["flows"]["password"]["tokenUrl"] = prefix + TOKEN_PATH


async def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> User:
    return principal.user


async def attached_principal(
    principal: Annotated[Principal, Depends(current_principal)], session: SessionDep
) -> Principal:
    """`load=False`: the access check has just proven the row; attaching it costs no
    query. Only what a service then changes on it is written."""
    user = await session.merge(principal.user, load=False)
    return Principal(user=user, session_id=principal.session_id, amr=principal.amr)


async def optional_user(connection: HTTPConnection) -> User | None:
    """No `Authorization` header: None. A header with a bad token is still refused, so a
    client with an expired token learns it instead of being served as a stranger."""
    if "authorization" not in connection.headers:
        return None
    return (await current_principal(connection)).user


async def require_mfa(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """For a host's route that must not be reached with a password alone: the token's
    `amr` must name a second factor (a code, a recovery code, or a passkey), else 403
    `MFA_REQUIRED_FOR_ROUTE`. Use it as `Depends(require_mfa)` or as `MfaPrincipal`."""
    if not principal.has_second_factor:
        raise SecondFactorRequired()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
MfaPrincipal = Annotated[Principal, Depends(require_mfa)]
CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
AttachedPrincipal = Annotated[Principal, Depends(attached_principal)]
AUTHENTICATION_ERRORS = (NotAuthenticated, InvalidAccessToken, AccountDisabled)
"""What any route behind a principal can answer, for its `responses=`."""

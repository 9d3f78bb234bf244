"""Who is signed in: the bearer token, checked against its live session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection
from fastapi.security import OAuth2PasswordBearer

from fastapi_auth.auth.tokens import TokenError
from fastapi_auth.errors import AccountDisabled, InvalidAccessToken, NotAuthenticated
from fastapi_auth.models import User
from fastapi_auth.runtime import Runtime


@dataclass(frozen=True)
class Principal:
    user: User
    session_id: uuid.UUID


class BearerSession(OAuth2PasswordBearer):
    """The OAuth2 bearer scheme (so the OpenAPI schema and the docs' Authorize button show
    it) whose answer is the signed-in principal rather than the raw token.

    One dependency instead of a chain of three (scheme, token check, user): FastAPI's
    dependency solving costs about as much per dependency as the rest of a small request
    does. Needs no session of the request's own, so a read-only route opens no
    transaction; and reads the runtime off the app rather than through `RuntimeDep`."""

    async def __call__(self, request: HTTPConnection) -> Principal:  # type: ignore[override]
        token = await super().__call__(request)
        if not token:
            raise NotAuthenticated()
        runtime: Runtime = request.app.state.fastapi_auth
        try:
            claims = runtime.access_tokens.read(token)
        except TokenError as error:
            raise InvalidAccessToken() from error
        user = await runtime.live_sessions.user_of(claims.user_id, claims.session_id)
        if user is None:
            raise InvalidAccessToken()
        if not user.is_active:
            raise AccountDisabled()
        return Principal(user=user, session_id=claims.session_id)


current_principal = BearerSession(
    tokenUrl="auth/login", scheme_name="OAuth2PasswordBearer", auto_error=False
)


async def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> User:
    return principal.user


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AUTHENTICATION_ERRORS = (NotAuthenticated, InvalidAccessToken, AccountDisabled)
"""What any route behind `CurrentUser` can answer, for its `responses=`."""
CurrentUser = Annotated[User, Depends(current_user)]

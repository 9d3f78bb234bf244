"""Who is signed in: the bearer token, checked against its live session in one query."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from fastapi_auth.auth.tokens import TokenError
from fastapi_auth.errors import AccountDisabled, InvalidAccessToken, NotAuthenticated
from fastapi_auth.models import User, utcnow
from fastapi_auth.runtime import Runtime
from fastapi_auth.users.repository import user_of_live_session

bearer_scheme = OAuth2PasswordBearer(tokenUrl="auth/login", auto_error=False)


@dataclass(frozen=True)
class Principal:
    user: User
    session_id: uuid.UUID


async def current_principal(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Principal:
    """Needs no session of the request's own, so a read-only route opens no transaction;
    and reads the runtime off the app rather than through `RuntimeDep`, one dependency
    fewer on the path every authenticated request takes."""
    if not token:
        raise NotAuthenticated()
    runtime: Runtime = request.app.state.fastapi_auth
    try:
        claims = runtime.access_tokens.read(token)
    except TokenError as error:
        raise InvalidAccessToken() from error
    user = await user_of_live_session(runtime.database, claims.user_id, claims.session_id, utcnow())
    if user is None:
        raise InvalidAccessToken()
    if not user.is_active:
        raise AccountDisabled()
    return Principal(user=user, session_id=claims.session_id)


async def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> User:
    return principal.user


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AUTHENTICATION_ERRORS = (NotAuthenticated, InvalidAccessToken, AccountDisabled)
"""What any route behind `CurrentUser` can answer, for its `responses=`."""
CurrentUser = Annotated[User, Depends(current_user)]

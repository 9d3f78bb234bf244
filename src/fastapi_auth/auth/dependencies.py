"""Who is signed in: the bearer token, checked against its live session in one query."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from fastapi_auth.auth.tokens import TokenError
from fastapi_auth.db import SessionDep
from fastapi_auth.errors import AccountDisabled, InvalidAccessToken, NotAuthenticated
from fastapi_auth.models import User, utcnow
from fastapi_auth.runtime import RuntimeDep
from fastapi_auth.users.repository import UserRepository

bearer_scheme = OAuth2PasswordBearer(tokenUrl="auth/login", auto_error=False)


@dataclass(frozen=True)
class Principal:
    user: User
    session_id: uuid.UUID


async def current_principal(
    token: Annotated[str | None, Depends(bearer_scheme)],
    session: SessionDep,
    runtime: RuntimeDep,
) -> Principal:
    if not token:
        raise NotAuthenticated()
    try:
        claims = runtime.access_tokens.read(token)
    except TokenError as error:
        raise InvalidAccessToken() from error
    user = await UserRepository(session).get_for_live_session(
        claims.user_id, claims.session_id, utcnow()
    )
    if user is None:
        raise InvalidAccessToken()
    if not user.is_active:
        raise AccountDisabled()
    return Principal(user=user, session_id=claims.session_id)


def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> User:
    return principal.user


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AUTHENTICATION_ERRORS = (NotAuthenticated, InvalidAccessToken, AccountDisabled)
"""What any route behind `CurrentUser` can answer, for its `responses=`."""
CurrentUser = Annotated[User, Depends(current_user)]

"""HTTP for the signed-in user's sessions (devices)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from fastapi_auth.auth.dependencies import AUTHENTICATION_ERRORS, CurrentPrincipal, CurrentUser
from fastapi_auth.client import ClientDep
from fastapi_auth.errors import (
    NotFound,
    error_responses,
)
from fastapi_auth.sessions.schemas import SessionRead
from fastapi_auth.users.router import SessionServiceDep

router = APIRouter(prefix="/users/me/sessions", tags=["sessions"])


@router.get("", response_model=list[SessionRead], responses=error_responses(*AUTHENTICATION_ERRORS))
async def list_sessions(
    principal: CurrentPrincipal, service: SessionServiceDep
) -> list[SessionRead]:
    """Live sessions, most recently used first; `current` marks the caller's."""
    return await service.list_sessions(principal.user, principal.session_id)


@router.delete(
    "/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS, NotFound),
)
async def revoke_session(
    session_id: uuid.UUID, user: CurrentUser, client: ClientDep, service: SessionServiceDep
) -> Response:
    """Ends one session; its access tokens stop working at once."""
    await service.revoke_own_session(user, session_id, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

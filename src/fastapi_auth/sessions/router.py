"""HTTP for the signed-in user's sessions (devices)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from fastapi_auth.auth.dependencies import AUTHENTICATION_ERRORS, CurrentPrincipal, CurrentUser
from fastapi_auth.client import ClientDep
from fastapi_auth.errors import InvalidCursor, NotFound, error_responses
from fastapi_auth.sessions.schemas import SessionRead
from fastapi_auth.users.router import SessionServiceDep

router = APIRouter(prefix="/users/me/sessions", tags=["sessions"])


@router.get(
    "",
    response_model=list[SessionRead],
    responses={
        200: {
            "headers": {
                "Link": {
                    "description": 'With more sessions than `limit`: `<…?cursor=…>; rel="next"`.',
                    "schema": {"type": "string"},
                }
            }
        },
        **error_responses(*AUTHENTICATION_ERRORS, InvalidCursor),
    },
)
async def list_sessions(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    service: SessionServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> list[SessionRead]:
    """Live sessions, newest first; `current` marks the caller's. Past
    `limit`, the next page is in the `Link` header (`rel="next"`), paged with a cursor
    as the security log is, so the answer stays a list."""
    page = await service.list_sessions(principal.user, principal.session_id, limit, cursor)
    if page.next_cursor is not None:
        following = request.url.include_query_params(cursor=page.next_cursor, limit=limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return page.items


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

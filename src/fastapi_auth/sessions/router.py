"""HTTP for sessions: refreshing one, listing and ending the signed-in user's."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from fastapi_auth.kernel.client import ClientDep
from fastapi_auth.kernel.components import use_part, use_service
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import InvalidCursor, InvalidRefreshToken, NotFound, RateLimited
from fastapi_auth.kernel.principal import (
    AUTHENTICATION_ERRORS,
    AttachedPrincipal,
    CurrentPrincipal,
)
from fastapi_auth.kernel.rate_limits import RateLimit
from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.sessions.schemas import (
    TOKEN_PAIR_LINKS,
    RefreshRequest,
    SessionRead,
    TokenPair,
)
from fastapi_auth.sessions.service import SessionService, TokenRotation

router = APIRouter(tags=["sessions"], route_class=GuardedRoute)

SessionServiceDep = Annotated[SessionService, use_service(SessionService)]
TokenRotationDep = Annotated[TokenRotation, use_part(TokenRotation)]


@router.post(
    "/auth/refresh",
    tags=["auth"],
    response_model=TokenPair,
    responses={200: TOKEN_PAIR_LINKS, **error_responses(InvalidRefreshToken, RateLimited)},
    dependencies=[RateLimit("token")],
)
async def refresh(body: RefreshRequest, client: ClientDep, rotation: TokenRotationDep) -> TokenPair:
    return await rotation.rotate(body.refresh_token, client)


@router.get(
    "/users/me/sessions",
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
    "/users/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS, NotFound),
)
async def revoke_session(
    session_id: uuid.UUID,
    principal: AttachedPrincipal,
    client: ClientDep,
    service: SessionServiceDep,
) -> Response:
    """Ends one session; its access tokens stop working at once."""
    await service.revoke_own_session(principal.user, session_id, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/logout",
    tags=["users"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidRefreshToken),
)
async def logout(
    body: RefreshRequest,
    principal: AttachedPrincipal,
    client: ClientDep,
    service: SessionServiceDep,
) -> Response:
    await service.logout(principal.user, body.refresh_token, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""HTTP for reading one's own security log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fastapi_auth.kernel.components import use_service
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import InvalidCursor
from fastapi_auth.kernel.principal import AUTHENTICATION_ERRORS, CurrentUser
from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.security_events.schemas import SecurityEventPage
from fastapi_auth.security_events.service import SecurityEventService

router = APIRouter(prefix="/users/me/security-events", tags=["sessions"], route_class=GuardedRoute)

SecurityEventServiceDep = Annotated[SecurityEventService, use_service(SecurityEventService)]


@router.get(
    "",
    response_model=SecurityEventPage,
    responses={
        200: {
            "links": {
                "NextPage": {
                    "operationRef": "#/paths/~1users~1me~1security-events/get",
                    "parameters": {"cursor": "$response.body#/next_cursor"},
                    "description": "The next, older page (while `next_cursor` is not null).",
                }
            }
        },
        **error_responses(*AUTHENTICATION_ERRORS, InvalidCursor),
    },
)
async def read_security_events(
    user: CurrentUser,
    service: SecurityEventServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SecurityEventPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    return await service.page(user.id, limit, cursor)

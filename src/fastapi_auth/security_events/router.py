"""HTTP for reading one's own security log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fastapi_auth.auth.dependencies import AUTHENTICATION_ERRORS, CurrentUser
from fastapi_auth.db import SessionDep
from fastapi_auth.errors import InvalidCursor, error_responses
from fastapi_auth.security_events.schemas import SecurityEventPage
from fastapi_auth.security_events.service import list_events

router = APIRouter(prefix="/users/me/security-events", tags=["sessions"])


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
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SecurityEventPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    return await list_events(session, user.id, limit, cursor)

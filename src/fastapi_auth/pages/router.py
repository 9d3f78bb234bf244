"""The reset page's route (the link pages are answered by the routes that act on them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.pages.rendering import PagesDep

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=GuardedRoute)


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_page(
    pages: PagesDep, token: Annotated[str, Query(max_length=2048)] = ""
) -> HTMLResponse:
    """A form that posts the token and the new password to `/auth/reset-password`."""
    return pages.render("reset_password.html", token=token)

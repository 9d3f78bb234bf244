"""The two pages emailed links open when `FRONTEND_URL` points at this service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
)

router = APIRouter(tags=["pages"], include_in_schema=False)


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.partition("text/html")[0]


def render_page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_page(token: Annotated[str, Query(max_length=2048)] = "") -> HTMLResponse:
    """A form that posts the token and the new password to `/auth/reset-password`."""
    return render_page("reset_password.html", token=token)

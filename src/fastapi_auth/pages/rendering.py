"""Rendering the pages emailed links open when `FRONTEND_URL` points at this service.

Each is an ordinary HTML form that works without JavaScript: a link's page only shows
a button whose form posts the token (so a mail scanner fetching the link changes
nothing), and the reset page posts the new password in the body, never in a URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
)


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def accepts_json(request: Request) -> bool:
    """Only a client that names `application/json` (at least as gladly as HTML) gets a
    link acted on by its GET: browsers and mail scanners send `text/html` or `*/*`."""
    qualities: dict[str, float] = {}
    for item in request.headers.get("accept", "").split(","):
        media_type, _, parameters = item.partition(";")
        qualities[media_type.strip().lower()] = _quality(parameters)
    json_quality = qualities.get("application/json", 0.0)
    return json_quality > 0 and json_quality >= qualities.get("text/html", 0.0)


def render_page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


class PageAnswer(Exception):
    """A page for a refused form post, raised rather than returned so the request's
    transaction rolls back as for any other error."""

    def __init__(self, status_code: int, template: str, **context: Any) -> None:
        super().__init__(template)
        self.status_code = status_code
        self.template = template
        self.context = context


def message_page(status_code: int, title: str, message: str) -> PageAnswer:
    return PageAnswer(status_code, "message.html", title=title, message=message)


async def page_answer_handler(_request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageAnswer)
    return render_page(exc.template, exc.status_code, **exc.context)

"""Rendering the pages emailed links open when `FRONTEND_URL` points at this service.

Each is an ordinary HTML form that works without JavaScript: a link's page only shows
a button whose form posts the token (so a mail scanner fetching the link changes
nothing), and the reset page posts the new password in the body, never in a URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.requests import HTTPConnection
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from fastapi_auth.kernel.branding import Branding
from fastapi_auth.kernel.components import components_of
from fastapi_auth.kernel.error_handlers import AnswerError
from fastapi_auth.kernel.password_policy import MIN_PASSWORD_LENGTH

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


STATIC_PATH = "/fastapi-auth/static"
"""Where the pages' own files are served, below the routes' prefix: a name of this
package's own, so a host's `/static` neither shadows them nor is shadowed."""


class Pages:
    """The pages of one app, which know where its routes and files are (the prefix it
    was mounted under) and how they look (`branding`: the name, logo and colour, and
    the sign-in link a successful verification or reset offers)."""

    def __init__(
        self,
        *,
        prefix: str = "",
        branding: Branding | None = None,
        password_min_length: int = MIN_PASSWORD_LENGTH,
    ) -> None:
        self.prefix = prefix
        self.branding = branding or Branding()
        self.password_min_length = password_min_length
        """The reset form's `minlength`, so a browser says "too short" as the API would."""
        self.globals: dict[str, Any] = {
            "base": prefix,
            "static": prefix + STATIC_PATH,
            "password_min_length": password_min_length,
            "brand_style": self.branding.page_style,
            **self.branding.template_variables,
        }

    def under(self, root_path: str) -> Pages:
        """The same pages as a sub-application mounted at `root_path` serves them."""
        if not root_path:
            return self
        return Pages(
            prefix=root_path + self.prefix,
            branding=self.branding,
            password_min_length=self.password_min_length,
        )

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = _templates.get_template(template).render(**self.globals, **context)
        return HTMLResponse(html, status_code=status_code)

    def answer(self, status_code: int, template: str, **context: Any) -> PageAnswer:
        return PageAnswer(self, status_code, template, **context)

    def message(self, status_code: int, title: str, message: str) -> PageAnswer:
        return self.answer(status_code, "message.html", title=title, message=message)

    def done(self, title: str, message: str) -> HTMLResponse:
        """The page a link's work answers once done (an address verified, a password
        set): the place to offer the sign-in link, when there is one."""
        return self.render("message.html", title=title, message=message, sign_in=True)


async def request_pages(connection: HTTPConnection) -> Pages:
    """The app's `Pages`, under the path its app is mounted at (`root_path`), if any."""
    pages = components_of(connection.app).get(Pages)
    return pages.under(connection.scope.get("root_path", ""))


PagesDep = Annotated[Pages, Depends(request_pages)]


class PageAnswer(AnswerError):
    """A page for a refused form post, raised rather than returned so the request's
    transaction rolls back as for any other error."""

    def __init__(self, pages: Pages, status_code: int, template: str, **context: Any) -> None:
        super().__init__(template)
        self.pages = pages
        self.status_code = status_code
        self.template = template
        self.context = context

    def response(self) -> HTMLResponse:
        return self.pages.render(self.template, self.status_code, **self.context)

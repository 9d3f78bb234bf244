"""What this package does to a request, applied to its own routes only.

Standalone, the whole app is this package's, so `GuardEverything` wraps the app:
every answer (a 404 too) gets the headers, every body the cap. Mounted into a host,
the host's routes must not change at all, so the same protections ride on the routes
themselves: `GuardedRoute` is every router's route class (its `handle` wraps the
route's ASGI call and answers this package's errors with its own handlers, not the
host's) and `GuardedStatic` wraps the static files.
A request the app-wide guard already covered is marked in its scope, so nothing is
applied twice.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_auth.kernel.components import components_of
from fastapi_auth.kernel.error_handlers import OWN_ERROR_HANDLERS, OWN_HANDLERS_IN_SCOPE
from fastapi_auth.kernel.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from fastapi_auth.kernel.page_policy import PAGE_CSP

GUARDED = "fastapi_auth.guarded"
HANDLERS_KEY = "starlette.exception_handlers"


class RouteGuard:
    """The app's body cap and headers, one per app (routes are shared by every app that
    includes the routers, so they read it from the app serving the request)."""

    def __init__(
        self,
        *,
        max_body_bytes: int,
        trusted_proxies: tuple[str, ...],
        cacheable: tuple[str, ...],
        page_csp: str = PAGE_CSP,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.trusted_proxies = trusted_proxies
        self.cacheable = cacheable
        self.page_csp = page_csp

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Headers outermost, so a 413 or 431 carries them too."""
        capped = BodySizeLimitMiddleware(app, max_bytes=self.max_body_bytes)
        return SecurityHeadersMiddleware(
            capped,
            trusted_proxies=self.trusted_proxies,
            page_csp=self.page_csp,
            cacheable=self.cacheable,
        )

    async def guard(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(GUARDED):
            await app(scope, receive, send)
            return
        scope[GUARDED] = True
        await self.wrap(app)(scope, receive, send)


def _guard_of(scope: Scope) -> RouteGuard:
    return components_of(scope["app"]).get(RouteGuard)


class GuardEverything:
    """The standalone app's middleware: the guard over every request."""

    def __init__(self, app: ASGIApp, guard: RouteGuard) -> None:
        self.app = app
        self.guard = guard
        self.guarded = guard.wrap(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[GUARDED] = True
        await self.guarded(scope, receive, send)


class GuardedRoute(APIRoute):
    """A route that answers like this package wherever it is mounted.

    Its errors are answered by this package's handlers, not the host's: Starlette finds
    a request's handlers in its scope, and this route puts its own there for the call
    (the error still unwinds the route's dependencies first, so the request's transaction
    rolls back). An error of no kind it knows, a bug, goes on to the host.

    A request that matched the path but not the method is refused by Starlette's
    `Route.handle` itself, before the route's own error handling: that 405 is answered
    here, or it would be the host's (its shape, none of this package's headers).
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get(GUARDED):
            await super().handle(scope, receive, send)
            return
        scope[HANDLERS_KEY] = OWN_HANDLERS_IN_SCOPE
        await _guard_of(scope).guard(self._handle_own, scope, receive, send)

    async def _handle_own(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            request = Request(scope, receive, send)
            refusal = HTTPException(status_code=405)
            response = await OWN_ERROR_HANDLERS[HTTPException](request, refusal)
            await response(scope, receive, send)
            return
        await super().handle(scope, receive, send)


class GuardedStatic:
    """The package's static files, with its headers (cacheable: no `no-store`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get(GUARDED) or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _guard_of(scope).guard(self.app, scope, receive, send)

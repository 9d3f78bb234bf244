"""The one place that turns any error into `{"detail", "code"}`, and the OpenAPI
entries that say which ones a route answers.

`OWN_ERROR_HANDLERS` are what this package's routes answer for their errors wherever
they are mounted (`route_guard.GuardedRoute`); `install_error_handlers` makes the same the
whole app's answers, for the standalone app only. A 422 never echoes a password or token.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from fastapi_auth.kernel.errors import DomainError, ServiceUnavailable, WeakPassword
from fastapi_auth.kernel.middleware import BASELINE_HEADERS, NO_STORE_HEADERS

logger = logging.getLogger("fastapi_auth")


HTTP_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

DATABASE_OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)

SECRET_FIELD_MARKERS = ("password", "token", "secret")


HEADER_DOCS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": "`Bearer`: send an access token.",
        "schema": {"type": "string"},
    },
}


def error_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route: each status with the codes and headers it can
    carry. Every route that lists its errors needs the database, so 503 is always one."""
    by_status: dict[int, list[type[DomainError]]] = {}
    listed: tuple[type[DomainError], ...] = (*errors, ServiceUnavailable)
    for error in listed:
        by_status.setdefault(error.status_code, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        codes = sorted({error.code for error in group})
        headers = sorted(
            {name for error in group for name in (*error.headers, *error.response_headers)}
        )
        models = sorted({error.body_model for error in group}, key=lambda model: model.__name__)
        responses[status] = {
            "model": models[0] if len(models) == 1 else Union[tuple(models)],  # noqa: UP007
            "description": f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{c}`" for c in codes),
        }
        if headers:
            responses[status]["headers"] = {
                name: HEADER_DOCS.get(name, {"schema": {"type": "string"}}) for name in headers
            }
    return responses


def _json_error(
    status: int, detail: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _is_secret_field(loc: Iterable[Any]) -> bool:
    return any(
        isinstance(part, str) and any(marker in part.lower() for marker in SECRET_FIELD_MARKERS)
        for part in loc
    )


def _json_safe(value: Any) -> Any:
    """What can be echoed back as UTF-8 JSON: lone surrogates (legal in JSON escapes, not
    in UTF-8) become U+FFFD; infinities and anything else JSON lacks become their text."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {_json_safe(str(key)): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return _json_safe(str(value))


def redact_validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keep FastAPI's 422 shape, but never echo a submitted password or token, nor a raw
    body (bytes: it may hold either), and never fail to render what is echoed."""
    redacted: list[dict[str, Any]] = []
    for error in errors:
        item = {key: value for key, value in error.items() if key not in {"input", "ctx", "url"}}
        value = error.get("input")
        if (
            "input" in error
            and not isinstance(value, (bytes, bytearray))
            and not _is_secret_field(error.get("loc", ()))
        ):
            if isinstance(value, Mapping):
                value = {
                    k: ("**********" if _is_secret_field([k]) else v) for k, v in value.items()
                }
            item["input"] = value
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping):
            item["ctx"] = {
                k: v if isinstance(v, (int, float, str)) else str(v) for k, v in ctx.items()
            }
        redacted.append(_json_safe(item))
    return redacted


async def _domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if isinstance(exc, WeakPassword):
        error: dict[str, Any] = {
            "loc": ["body", exc.field],
            "msg": exc.message,
            "type": exc.error_type,
        }
        if exc.context:
            error["ctx"] = exc.context
        return JSONResponse({"detail": [error]}, status_code=422)
    headers = {**exc.headers, **exc.extra_headers}
    if exc.extra_body:
        return JSONResponse(
            {"detail": exc.message, "code": exc.code, **exc.extra_body},
            status_code=exc.status_code,
            headers=headers,
        )
    return _json_error(exc.status_code, exc.message, exc.code, headers)


def _routes_of(request: Request) -> Iterable[Any]:
    """Every route, those of included routers too: FastAPI 0.13x+ keeps an included
    router as one entry, whose routes `iter_route_contexts` lists with their prefix."""
    routes: Iterable[Any] = request.app.router.routes
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return routes
    return iter_route_contexts(routes)  # type: ignore[arg-type,no-any-return,unused-ignore]


def _allowed_methods(request: Request) -> str:
    """Every method the path takes: Starlette's 405 names only the first route matched."""
    methods: set[str] = set()
    for route in _routes_of(request):
        route_methods = getattr(route, "methods", None)
        if route_methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route_methods
    return ", ".join(sorted(methods))


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers 422 `json_invalid` for broken JSON but 400 for bytes that are not
        # text at all; both are a body that is not JSON.
        error = {"type": "json_invalid", "loc": ["body"], "msg": "The body is not UTF-8 JSON."}
        return JSONResponse({"detail": [error]}, status_code=422)
    code = HTTP_STATUS_CODES.get(exc.status_code, HTTPStatus(exc.status_code).name)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return _json_error(exc.status_code, detail, code, headers)


async def _validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": redact_validation_errors(exc.errors())}, status_code=422)


async def _database_outage_handler(_request: Request, exc: Exception) -> JSONResponse:
    if (
        isinstance(exc, DBAPIError)
        and not isinstance(exc, (OperationalError, InterfaceError))
        and not exc.connection_invalidated
    ):
        return await _internal_error_handler(_request, exc)
    logger.warning("database unavailable: %s", type(exc).__name__)
    error = ServiceUnavailable()
    return _json_error(error.status_code, error.message, error.code, error.headers)


async def _internal_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette answers a crash outside every middleware, so the headers come with it."""
    logger.error("unhandled error", exc_info=exc)
    headers = {**BASELINE_HEADERS, **NO_STORE_HEADERS}
    return _json_error(500, "An internal error occurred.", "INTERNAL_ERROR", headers)


class AnswerError(Exception):
    """An error that is its own answer (a page for a refused form post), raised rather
    than returned so the request's transaction rolls back as for any other error."""

    def response(self) -> Response:
        raise NotImplementedError


async def _answer_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AnswerError)
    return exc.response()


OWN_ERROR_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    DomainError: _domain_error_handler,
    AnswerError: _answer_error_handler,
    RequestValidationError: _validation_error_handler,
    StarletteHTTPException: _http_error_handler,
    DBAPIError: _database_outage_handler,
    **dict.fromkeys(DATABASE_OUTAGE_ERRORS, _database_outage_handler),
}
"""What this package's routes answer for their errors wherever they are mounted; an
error of no kind here (a bug) goes on to the app's own handling."""

OWN_HANDLERS_IN_SCOPE: tuple[dict[Any, Any], dict[int, Any]] = (OWN_ERROR_HANDLERS, {})
"""As Starlette keeps an app's handlers in a request's scope: (by class, by status)."""


def install_own_error_handlers(app: FastAPI) -> None:
    """For errors of this package's own kinds raised outside its routes: a host's route
    that takes `CurrentUser` answers 401 as this package's routes do."""
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(AnswerError, _answer_error_handler)


def install_error_handlers(app: FastAPI) -> None:
    """Every error of the whole app, answered as this package answers: standalone only."""
    for kind, handler in OWN_ERROR_HANDLERS.items():
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(Exception, _internal_error_handler)

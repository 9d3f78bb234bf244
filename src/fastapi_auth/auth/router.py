"""HTTP for sign-up, verification, login, refresh and password recovery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from fastapi_auth.auth.schemas import (
    EmailRequest,
    LinkToken,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from fastapi_auth.auth.service import AuthService, VerifiedEmail
from fastapi_auth.client import ClientDep
from fastapi_auth.db import SessionDep
from fastapi_auth.errors import (
    AccountDisabled,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidLinkToken,
    InvalidRefreshToken,
    RateLimited,
    UnsupportedMediaType,
    error_responses,
)
from fastapi_auth.pages.router import render_page, wants_html
from fastapi_auth.ratelimit.service import RateLimit
from fastapi_auth.runtime import RuntimeDep
from fastapi_auth.sessions.schemas import TokenPair
from fastapi_auth.sessions.service import rotate_refresh_token
from fastapi_auth.users.schemas import MessageResponse

router = APIRouter(prefix="/auth", tags=["auth"])

REGISTER_ACCEPTED = (
    "If the address can be registered, a verification email is on its way. "
    "Follow its link to activate the account."
)
EMAIL_ACCEPTED = "If an account matches that address, an email is on its way."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def get_auth_service(session: SessionDep, runtime: RuntimeDep) -> AuthService:
    return AuthService(session, runtime)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


def _validation_error(error: ValidationError, rename: dict[str, str] | None = None) -> Exception:
    names = rename or {}
    errors: list[dict[str, Any]] = []
    for item in error.errors(include_url=False):
        loc = [names.get(str(part), part) for part in item["loc"]]
        errors.append({**item, "loc": ["body", *loc]})
    return RequestValidationError(errors)


async def read_login(request: Request) -> LoginRequest:
    """JSON for apps, or the OAuth2 password form so Swagger's Authorize button works."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if media_type == "application/json" or media_type.endswith("+json"):
            return LoginRequest.model_validate_json(await request.body())
        if media_type in FORM_TYPES:
            form = await request.form()
            fields = {"email": form.get("username"), "password": form.get("password")}
            return LoginRequest.model_validate(fields)
    except ValidationError as error:
        renames = {"email": "username"} if media_type in FORM_TYPES else None
        raise _validation_error(error, renames) from None
    raise UnsupportedMediaType()


VALIDATION_RESPONSE: dict[str, Any] = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
TOKEN_PAIR_LINKS: dict[str, Any] = {
    "links": {
        "Refresh": {
            "operationRef": "#/paths/~1auth~1refresh/post",
            "requestBody": {"refresh_token": "$response.body#/refresh_token"},
            "description": "Trade the refresh token for a new pair (once: it is then spent).",
        },
        "Logout": {
            "operationRef": "#/paths/~1users~1logout/post",
            "requestBody": {"refresh_token": "$response.body#/refresh_token"},
            "description": "End the session this pair belongs to.",
        },
    }
}
LOGIN_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": LoginRequest.model_json_schema()},
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["username", "password"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["password"]},
                    "username": {"type": "string", "description": "The account's email."},
                    "password": {"type": "string", "format": "password"},
                },
            }
        },
    },
}


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageResponse,
    responses=error_responses(RateLimited),
    dependencies=[RateLimit("register")],
)
async def register(body: RegisterRequest, service: AuthServiceDep) -> MessageResponse:
    await service.register(body)
    return MessageResponse(detail=REGISTER_ACCEPTED)


def _verified_message(verified: VerifiedEmail) -> str:
    if verified.kind == "email_change":
        return f"Your email address is now {verified.email}."
    return f"{verified.email} is verified. You can log in now."


@router.get(
    "/verify-email",
    response_model=MessageResponse,
    responses={
        **error_responses(InvalidLinkToken, EmailTaken, RateLimited),
        200: {"content": {"text/html": {}}, "description": "With `Accept: text/html`, a page."},
    },
    dependencies=[RateLimit("token")],
)
async def verify_email_link(
    request: Request,
    token: Annotated[LinkToken, Query()],
    client: ClientDep,
    service: AuthServiceDep,
) -> Any:
    """The emailed link: a page for a browser, JSON for everyone else."""
    if not wants_html(request):
        verified = await service.verify_email(token, client)
        return MessageResponse(detail=_verified_message(verified))
    try:
        verified = await service.verify_email(token, client)
    except (InvalidLinkToken, EmailTaken) as error:
        return render_page(
            "message.html",
            status_code=error.status_code,
            title="Link not valid",
            message=error.message,
        )
    return render_page("message.html", title="Email verified", message=_verified_message(verified))


@router.post(
    "/verify-email",
    response_model=MessageResponse,
    responses=error_responses(InvalidLinkToken, EmailTaken, RateLimited),
    dependencies=[RateLimit("token")],
)
async def verify_email(
    body: VerifyEmailRequest, client: ClientDep, service: AuthServiceDep
) -> MessageResponse:
    return MessageResponse(detail=_verified_message(await service.verify_email(body.token, client)))


@router.post(
    "/resend-verification",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageResponse,
    responses=error_responses(RateLimited),
    dependencies=[RateLimit("email")],
)
async def resend_verification(body: EmailRequest, service: AuthServiceDep) -> MessageResponse:
    await service.resend_verification(body.email)
    return MessageResponse(detail=EMAIL_ACCEPTED)


@router.post(
    "/login",
    response_model=TokenPair,
    openapi_extra={"requestBody": LOGIN_BODY},
    responses={
        200: TOKEN_PAIR_LINKS,
        **error_responses(
            InvalidCredentials, EmailNotVerified, AccountDisabled, UnsupportedMediaType, RateLimited
        ),
        422: VALIDATION_RESPONSE,
    },
    dependencies=[RateLimit("login")],
)
async def login(
    credentials: Annotated[LoginRequest, Depends(read_login)],
    client: ClientDep,
    service: AuthServiceDep,
) -> TokenPair:
    return await service.login(credentials.email, credentials.password, client)


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses={200: TOKEN_PAIR_LINKS, **error_responses(InvalidRefreshToken, RateLimited)},
    dependencies=[RateLimit("token")],
)
async def refresh(body: RefreshRequest, client: ClientDep, runtime: RuntimeDep) -> TokenPair:
    return await rotate_refresh_token(runtime, body.refresh_token, client)


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageResponse,
    responses=error_responses(RateLimited),
    dependencies=[RateLimit("email")],
)
async def forgot_password(body: EmailRequest, service: AuthServiceDep) -> MessageResponse:
    await service.forgot_password(body.email)
    return MessageResponse(detail=EMAIL_ACCEPTED)


@router.post(
    "/reset-password",
    response_model=MessageResponse,
    responses=error_responses(InvalidLinkToken, RateLimited),
    dependencies=[RateLimit("token")],
)
async def reset_password(
    body: ResetPasswordRequest, client: ClientDep, service: AuthServiceDep
) -> MessageResponse:
    await service.reset_password(body.token, body.new_password, client)
    return MessageResponse(detail="Your password has been reset. Log in with the new one.")

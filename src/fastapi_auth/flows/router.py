"""HTTP for sign-up, verification, login, refresh and password recovery."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ValidationError

from fastapi_auth.flows.schemas import (
    EmailRequest,
    LinkToken,
    LoginRequest,
    RegisterRequest,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from fastapi_auth.flows.service import AuthService
from fastapi_auth.kernel.client import ClientDep, ClientInfo
from fastapi_auth.kernel.components import use_service
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import (
    AccountDisabled,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidLinkToken,
    InvalidMfaToken,
    MfaCodeRefused,
    MfaRequired,
    PasskeyRefused,
    RateLimited,
    UnsupportedMediaType,
    WeakPassword,
)
from fastapi_auth.kernel.fields import MessageResponse
from fastapi_auth.kernel.rate_limits import RateLimit
from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.mfa.schemas import (
    MfaLoginRequest,
    MfaTokenRequest,
    PasskeyLoginRequest,
    PasskeyOptionsRead,
)
from fastapi_auth.pages.rendering import PageAnswer, Pages, PagesDep, accepts_json
from fastapi_auth.sessions.schemas import TOKEN_PAIR_LINKS, TokenPair

router = APIRouter(prefix="/auth", tags=["auth"], route_class=GuardedRoute)

REGISTER_ACCEPTED = (
    "If the address can be registered, a verification email is on its way. "
    "Follow its link to activate the account."
)
EMAIL_ACCEPTED = "If an account matches that address, an email is on its way."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


AuthServiceDep = Annotated[AuthService, use_service(AuthService)]


def _validation_error(error: ValidationError, rename: dict[str, str] | None = None) -> Exception:
    names = rename or {}
    errors: list[dict[str, Any]] = []
    for item in error.errors(include_url=False):
        loc = [names.get(str(part), part) for part in item["loc"]]
        errors.append({**item, "loc": ["body", *loc]})
    return RequestValidationError(errors)


M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M]) -> tuple[M, bool]:
    """A JSON body, or a form with the model's fields; whether it was a form. JSON is
    parsed as FastAPI parses a body, so errors point at the same places."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if media_type == "application/json" or media_type.endswith("+json"):
            try:
                fields = json.loads(await request.body())
            except (ValueError, RecursionError) as error:  # JSONDecodeError, bad UTF-8, depth
                invalid = {"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}
                raise RequestValidationError([invalid]) from error
            return model.model_validate(fields), False
        if media_type in FORM_TYPES:
            form = await request.form()
            return model.model_validate({name: form.get(name) for name in model.model_fields}), True
    except ValidationError as error:
        raise _validation_error(error) from None
    raise UnsupportedMediaType()


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


LINK_PAGE = {"content": {"text/html": {}}, "description": "A browser gets a page instead."}


def answered_as_pages(
    responses: dict[int | str, dict[str, Any]], *statuses: int
) -> dict[int | str, dict[str, Any]]:
    """Documents that these answers may also be a page (for a browser or a page's form)."""
    for code in statuses:
        entry = responses.setdefault(code, {})
        entry.setdefault("content", {})["text/html"] = {}
    return responses


def _link_body(json_schema: dict[str, Any]) -> dict[str, Any]:
    """JSON for apps, or the form the link's page posts (which answers a page)."""
    return {
        "required": True,
        "content": {
            "application/json": {"schema": json_schema},
            "application/x-www-form-urlencoded": {"schema": json_schema},
        },
    }


async def read_link_token(request: Request) -> tuple[str, bool]:
    """The token, and whether it came from a page's form (then the answer is a page)."""
    body, from_form = await read_body(request, VerifyEmailRequest)
    return body.token, from_form


LinkTokenBody = Annotated[tuple[str, bool], Depends(read_link_token)]


LINK_GET_RESPONSES = answered_as_pages(
    {**error_responses(InvalidLinkToken, EmailTaken, RateLimited), 200: LINK_PAGE}, 400
)
LINK_POST_RESPONSES = answered_as_pages(
    {
        **error_responses(InvalidLinkToken, EmailTaken, UnsupportedMediaType, RateLimited),
        200: LINK_PAGE,
        422: VALIDATION_RESPONSE,
    },
    400,
    409,
)
LINK_POST_BODY = {"requestBody": _link_body(VerifyEmailRequest.model_json_schema())}


@dataclass(frozen=True)
class ConfirmPage:
    """The page a browser's GET of a link shows: one button, whose form posts the token."""

    title: str
    message: str
    action: str
    button: str
    done: str
    """The title of the page the form's post answers."""
    offers_sign_in: bool
    """Whether that page links to `SIGN_IN_URL` (when set): after a verification, signing
    in is what comes next; after a cancellation, resetting the password is."""


VERIFY_PAGE = ConfirmPage(
    title="Confirm your email address",
    message="Press the button to confirm this address.",
    action="/auth/verify-email",
    button="Confirm",
    done="Email verified",
    offers_sign_in=True,
)
CANCEL_PAGE = ConfirmPage(
    title="Cancel the email change",
    message="Press the button to keep your old address and sign out every device.",
    action="/auth/cancel-email-change",
    button="Cancel the change",
    done="Email change cancelled",
    offers_sign_in=False,
)


async def confirm_page(
    pages: Pages, check: Awaitable[None], token: str, page: ConfirmPage
) -> HTMLResponse:
    try:
        await check
    except InvalidLinkToken as error:
        raise pages.message(error.status_code, "Link not valid", error.message) from error
    return pages.render(
        "confirm.html",
        title=page.title,
        message=page.message,
        action=pages.globals["base"] + page.action,
        token=token,
        button=page.button,
    )


async def answer_link(pages: Pages, act: Awaitable[str], as_page: ConfirmPage | None) -> Any:
    """JSON, or for the confirm page's form a page (a refusal too, rolled back all the
    same: `PageAnswer` is raised)."""
    if as_page is None:
        return MessageResponse(detail=await act)
    try:
        detail = await act
    except (InvalidLinkToken, EmailTaken) as error:
        raise pages.message(error.status_code, "Link not valid", error.message) from error
    if as_page.offers_sign_in:
        return pages.done(as_page.done, detail)
    return pages.render("message.html", title=as_page.done, message=detail)


async def _verify(service: AuthService, token: str, client: ClientInfo) -> str:
    verified = await service.verify_email(token, client)
    if verified.kind == "email_change":
        return f"Your email address is now {verified.email}."
    return f"{verified.email} is verified. You can log in now."


async def _cancel(service: AuthService, token: str, client: ClientInfo) -> str:
    cancelled = await service.cancel_email_change(token, client)
    return (
        f"The email change was cancelled: your account's address is {cancelled.email}, and "
        "every session has ended. If you did not ask for the change, reset your password."
    )


@router.get(
    "/verify-email",
    response_model=MessageResponse,
    responses=LINK_GET_RESPONSES,
    dependencies=[RateLimit("token")],
)
async def verify_email_link(
    request: Request,
    token: Annotated[LinkToken, Query()],
    client: ClientDep,
    service: AuthServiceDep,
    pages: PagesDep,
) -> Any:
    """The emailed link. With `Accept: application/json` it verifies; anything else (a
    browser, a mail scanner) gets a page whose button posts the token, and nothing
    changes until it is pressed."""
    if accepts_json(request):
        return await answer_link(pages, _verify(service, token, client), as_page=None)
    return await confirm_page(pages, service.check_verification_link(token), token, VERIFY_PAGE)


@router.post(
    "/verify-email",
    response_model=MessageResponse,
    openapi_extra=LINK_POST_BODY,
    responses=LINK_POST_RESPONSES,
    dependencies=[RateLimit("token")],
)
async def verify_email(
    body: LinkTokenBody, client: ClientDep, service: AuthServiceDep, pages: PagesDep
) -> Any:
    token, from_form = body
    return await answer_link(
        pages, _verify(service, token, client), VERIFY_PAGE if from_form else None
    )


@router.get(
    "/cancel-email-change",
    response_model=MessageResponse,
    responses=LINK_GET_RESPONSES,
    dependencies=[RateLimit("token")],
)
async def cancel_email_change_link(
    request: Request,
    token: Annotated[LinkToken, Query()],
    client: ClientDep,
    service: AuthServiceDep,
    pages: PagesDep,
) -> Any:
    """The link in the notice sent to the old address: as for `GET /auth/verify-email`,
    it acts only for `Accept: application/json`, else a page with a button."""
    if accepts_json(request):
        return await answer_link(pages, _cancel(service, token, client), as_page=None)
    return await confirm_page(pages, service.check_cancel_link(token), token, CANCEL_PAGE)


@router.post(
    "/cancel-email-change",
    response_model=MessageResponse,
    openapi_extra=LINK_POST_BODY,
    responses=LINK_POST_RESPONSES,
    dependencies=[RateLimit("token")],
)
async def cancel_email_change(
    body: LinkTokenBody, client: ClientDep, service: AuthServiceDep, pages: PagesDep
) -> Any:
    """Keeps (or puts back) the account's old address and ends every session."""
    token, from_form = body
    return await answer_link(
        pages, _cancel(service, token, client), CANCEL_PAGE if from_form else None
    )


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
            InvalidCredentials,
            EmailNotVerified,
            AccountDisabled,
            MfaRequired,
            UnsupportedMediaType,
            RateLimited,
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
    """An account with a second factor answers the right password with 403 `MFA_REQUIRED`
    and an `mfa_token` for `POST /auth/login/mfa`; a wrong one is the usual 401."""
    return await service.login(credentials.email, credentials.password, client)


@router.post(
    "/login/mfa",
    response_model=TokenPair,
    responses={
        200: TOKEN_PAIR_LINKS,
        **error_responses(
            InvalidMfaToken,
            MfaCodeRefused,
            PasskeyRefused,
            EmailNotVerified,
            AccountDisabled,
            RateLimited,
        ),
    },
    dependencies=[RateLimit("login")],
)
async def login_mfa(body: MfaLoginRequest, client: ClientDep, service: AuthServiceDep) -> TokenPair:
    """The login's second step: a code from the authenticator app or a recovery code
    (`code`), or a passkey's assertion (`credential`) for the challenge of
    `POST /auth/login/mfa/passkey-options`. The `mfa_token` lives 5 minutes, is spent by
    the login it completes, and dies after 5 wrong tries, codes and passkeys alike."""
    return await service.complete_mfa_login(
        body.mfa_token, client, code=body.code, credential=body.credential
    )


@router.post(
    "/login/mfa/passkey-options",
    response_model=PasskeyOptionsRead,
    responses=error_responses(InvalidMfaToken),
)
async def login_mfa_passkey_options(
    body: MfaTokenRequest, service: AuthServiceDep
) -> PasskeyOptionsRead:
    """Request options naming this account's passkeys, for the second step; its
    challenge is bound to the `mfa_token` (the newest one asked for is the one checked)."""
    ceremony = await service.second_step_passkey_options(body.mfa_token)
    return PasskeyOptionsRead(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post(
    "/passkey/options",
    response_model=PasskeyOptionsRead,
    responses=error_responses(RateLimited),
    dependencies=[RateLimit("login")],
)
async def passkey_login_options(service: AuthServiceDep) -> PasskeyOptionsRead:
    """Options for a usernameless login: an empty allow list, so the browser offers the
    discoverable passkeys it holds for this site. Rate-limited: each call stores a
    challenge (single-use, 5 minutes)."""
    ceremony = service.passkey_login_options()
    return PasskeyOptionsRead(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post(
    "/passkey/login",
    response_model=TokenPair,
    responses={
        200: TOKEN_PAIR_LINKS,
        **error_responses(PasskeyRefused, EmailNotVerified, AccountDisabled, RateLimited),
    },
    dependencies=[RateLimit("login")],
)
async def passkey_login(
    body: PasskeyLoginRequest, client: ClientDep, service: AuthServiceDep
) -> TokenPair:
    """A passkey is both factors: tokens with `amr` `["hwk"]`. A disabled or unverified
    account is told so only after the passkey verified, as a login tells it after the
    password."""
    return await service.login_with_passkey(body.challenge_id, body.credential, client)


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


RESET_DONE = "Your password has been set. Log in with it."


async def read_reset(request: Request, pages: PagesDep) -> tuple[ResetPasswordRequest, bool]:
    """JSON, or the reset page's form; a form's mistakes are answered with the form again."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in FORM_TYPES:
        return await read_body(request, ResetPasswordRequest)
    form = await request.form()
    token = form.get("token")
    token = token if isinstance(token, str) else ""
    if form.get("new_password") != form.get("confirm_password"):
        raise _reset_form_again(pages, token, "The two passwords differ.")
    try:
        fields = {"token": token, "new_password": form.get("new_password")}
        return ResetPasswordRequest.model_validate(fields), True
    except ValidationError as error:
        reasons = " ".join(str(item["msg"]) for item in error.errors(include_url=False))
        raise _reset_form_again(pages, token, reasons) from None


def _reset_form_again(pages: Pages, token: str, error: str) -> PageAnswer:
    return pages.answer(422, "reset_password.html", token=token, error=error)


@router.post(
    "/reset-password",
    response_model=MessageResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ResetPasswordRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["token", "new_password", "confirm_password"],
                        "properties": {
                            "token": {"type": "string"},
                            "new_password": {"type": "string", "format": "password"},
                            "confirm_password": {"type": "string", "format": "password"},
                        },
                    }
                },
            },
        }
    },
    responses=answered_as_pages(
        {
            **error_responses(InvalidLinkToken, UnsupportedMediaType, RateLimited),
            200: LINK_PAGE,
            422: {**VALIDATION_RESPONSE, "content": dict(VALIDATION_RESPONSE["content"])},
        },
        400,
        422,
    ),
    dependencies=[RateLimit("token")],
)
async def reset_password(
    body: Annotated[tuple[ResetPasswordRequest, bool], Depends(read_reset)],
    client: ClientDep,
    service: AuthServiceDep,
    pages: PagesDep,
) -> Any:
    """Sets the password a reset (or a first-password) link was sent for; the reset
    page's form gets a page back. No password ever travels in a URL."""
    request, from_form = body
    if not from_form:
        await service.reset_password(request.token, request.new_password, client)
        return MessageResponse(detail=RESET_DONE)
    try:
        await service.reset_password(request.token, request.new_password, client)
    except InvalidLinkToken as error:
        raise pages.message(error.status_code, "Link not valid", error.message) from error
    except WeakPassword as error:
        raise _reset_form_again(pages, request.token, error.message) from error
    return pages.done("Password set", RESET_DONE)

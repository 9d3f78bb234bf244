"""HTTP for the signed-in user's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from fastapi_auth.auth.dependencies import AUTHENTICATION_ERRORS, CurrentPrincipal, CurrentUser
from fastapi_auth.auth.schemas import RefreshRequest
from fastapi_auth.client import ClientDep
from fastapi_auth.db import SessionDep
from fastapi_auth.errors import (
    EmailTaken,
    InvalidPassword,
    InvalidRefreshToken,
    RateLimited,
    error_responses,
)
from fastapi_auth.runtime import RuntimeDep
from fastapi_auth.sessions.schemas import LogoutAllRequest
from fastapi_auth.sessions.service import SessionService
from fastapi_auth.users.schemas import (
    ChangePasswordRequest,
    DeleteAccountRequest,
    MessageResponse,
    UserRead,
    UserUpdate,
)
from fastapi_auth.users.service import UserService

router = APIRouter(prefix="/users", tags=["users"])


async def get_user_service(session: SessionDep, runtime: RuntimeDep) -> UserService:
    return UserService(session, runtime)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]


async def get_session_service(session: SessionDep, runtime: RuntimeDep) -> SessionService:
    return SessionService(session, runtime)


SessionServiceDep = Annotated[SessionService, Depends(get_session_service)]


@router.get("/me", response_model=UserRead, responses=error_responses(*AUTHENTICATION_ERRORS))
async def read_me(principal: CurrentPrincipal) -> UserRead:
    return UserRead.model_validate(principal.user)


@router.patch(
    "/me",
    response_model=UserRead,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidPassword, EmailTaken, RateLimited),
)
async def update_me(
    body: UserUpdate, principal: CurrentPrincipal, client: ClientDep, service: UserServiceDep
) -> UserRead:
    """A new `email` needs `current_password` and waits in `pending_email` until the link
    sent to it is followed; the old address gets a notice with a link that cancels it."""
    user = await service.update_profile(principal.user, principal.session_id, body, client)
    return UserRead.model_validate(user)


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidPassword, RateLimited),
)
async def delete_me(
    body: DeleteAccountRequest,
    principal: CurrentPrincipal,
    client: ClientDep,
    service: UserServiceDep,
) -> Response:
    """Deletes the account after the password is entered again. Every session ends; the
    profile (email, name, phone number, password hash) is deleted, so the address can
    register again; a goodbye email is sent. Kept: only the security log, under the
    account's opaque id, as event types, session ids and times, with every IP address and
    user agent erased. Every email queued or sent to the account is deleted from the
    outbox, but for the goodbye email, which `fastapi-auth db prune` removes once sent."""
    await service.delete_account(principal.user, principal.session_id, body.password, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/change-password",
    response_model=MessageResponse,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidPassword, RateLimited),
)
async def change_password(
    body: ChangePasswordRequest,
    principal: CurrentPrincipal,
    client: ClientDep,
    service: UserServiceDep,
) -> MessageResponse:
    await service.change_password(
        principal.user, principal.session_id, body.current_password, body.new_password, client
    )
    return MessageResponse(detail="Your password has been changed. Other sessions were ended.")


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidRefreshToken),
)
async def logout(
    body: RefreshRequest, user: CurrentUser, client: ClientDep, service: SessionServiceDep
) -> Response:
    await service.logout(user, body.refresh_token, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS),
)
async def logout_all(
    principal: CurrentPrincipal,
    client: ClientDep,
    service: UserServiceDep,
    body: LogoutAllRequest | None = None,
) -> Response:
    """Ends every session of the account, or every other one with `keep_current`, and
    cancels a pending email change."""
    keep = principal.session_id if body is not None and body.keep_current else None
    await service.logout_all(principal.user, keep, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""HTTP for the signed-in user's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from fastapi_auth.kernel.client import ClientDep
from fastapi_auth.kernel.components import use_service
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import EmailTaken, InvalidPassword, RateLimited
from fastapi_auth.kernel.fields import MessageResponse
from fastapi_auth.kernel.principal import (
    AUTHENTICATION_ERRORS,
    AttachedPrincipal,
    CurrentPrincipal,
)
from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.users.schemas import (
    ChangePasswordRequest,
    DeleteAccountRequest,
    LogoutAllRequest,
    UserRead,
    UserUpdate,
)
from fastapi_auth.users.service import UserService

router = APIRouter(prefix="/users", tags=["users"], route_class=GuardedRoute)


UserServiceDep = Annotated[UserService, use_service(UserService)]


@router.get("/me", response_model=UserRead, responses=error_responses(*AUTHENTICATION_ERRORS))
async def read_me(principal: CurrentPrincipal) -> UserRead:
    return UserRead.model_validate(principal.user)


@router.patch(
    "/me",
    response_model=UserRead,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidPassword, EmailTaken, RateLimited),
)
async def update_me(
    body: UserUpdate, principal: AttachedPrincipal, client: ClientDep, service: UserServiceDep
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
    principal: AttachedPrincipal,
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
    principal: AttachedPrincipal,
    client: ClientDep,
    service: UserServiceDep,
) -> MessageResponse:
    await service.change_password(
        principal.user, principal.session_id, body.current_password, body.new_password, client
    )
    return MessageResponse(detail="Your password has been changed. Other sessions were ended.")


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS),
)
async def logout_all(
    principal: AttachedPrincipal,
    client: ClientDep,
    service: UserServiceDep,
    body: LogoutAllRequest | None = None,
) -> Response:
    """Ends every session of the account, or every other one with `keep_current`, and
    cancels a pending email change."""
    keep = principal.session_id if body is not None and body.keep_current else None
    await service.logout_all(principal.user, keep, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

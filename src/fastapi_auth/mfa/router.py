"""HTTP for the signed-in user's second factors: the authenticator app and the recovery
codes (`/users/me/mfa/*`), and the passkeys (`/users/me/passkeys*`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from fastapi_auth.kernel.client import ClientDep
from fastapi_auth.kernel.components import use_service
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import (
    InvalidMfaCode,
    InvalidPasskey,
    InvalidPassword,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaSetupNotStarted,
    NotFound,
    PasskeyExists,
    RateLimited,
)
from fastapi_auth.kernel.fields import MessageResponse
from fastapi_auth.kernel.principal import AUTHENTICATION_ERRORS, AttachedPrincipal
from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.mfa.schemas import (
    AddPasskeyRequest,
    CodeRequest,
    PasskeyAddedRead,
    PasskeyOptionsRead,
    PasskeyRead,
    PasswordAndCodeRequest,
    PasswordRequest,
    RecoveryCodesRead,
    RenamePasskeyRequest,
    TotpSetupRead,
)
from fastapi_auth.mfa.service import MfaService

router = APIRouter(prefix="/users/me/mfa", tags=["mfa"], route_class=GuardedRoute)
passkeys_router = APIRouter(prefix="/users/me/passkeys", tags=["mfa"], route_class=GuardedRoute)

MfaServiceDep = Annotated[MfaService, use_service(MfaService)]


@router.post(
    "/totp/setup",
    response_model=TotpSetupRead,
    responses=error_responses(
        *AUTHENTICATION_ERRORS, InvalidPassword, MfaAlreadyEnabled, RateLimited
    ),
)
async def setup_totp(
    body: PasswordRequest, principal: AttachedPrincipal, client: ClientDep, service: MfaServiceDep
) -> TotpSetupRead:
    """Nothing is on yet: confirm with a first code. Calling again replaces the pending
    secret; a credential change (a password reset, say) ends it."""
    setup = await service.setup_totp(principal.user, body.password, client)
    return TotpSetupRead(secret=setup.secret, otpauth_uri=setup.otpauth_uri, qr_svg=setup.qr_svg)


@router.post(
    "/totp/confirm",
    response_model=RecoveryCodesRead,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidMfaCode, MfaSetupNotStarted),
)
async def confirm_totp(
    body: CodeRequest, principal: AttachedPrincipal, client: ClientDep, service: MfaServiceDep
) -> RecoveryCodesRead:
    """The app is on; every other session ends; a notice email. The recovery codes are
    returned when this turns MFA on, this once."""
    codes = await service.confirm_totp(principal.user, principal.session_id, body.code, client)
    return RecoveryCodesRead(recovery_codes=codes)


@router.post(
    "/totp/disable",
    response_model=MessageResponse,
    responses=error_responses(
        *AUTHENTICATION_ERRORS, InvalidPassword, InvalidMfaCode, MfaNotEnabled, RateLimited
    ),
)
async def disable_totp(
    body: PasswordAndCodeRequest,
    principal: AttachedPrincipal,
    client: ClientDep,
    service: MfaServiceDep,
) -> MessageResponse:
    """`code`: from the app, or a recovery code. MFA stays on while a passkey remains."""
    await service.disable_totp(
        principal.user, principal.session_id, body.password, body.code, client
    )
    return MessageResponse(detail="The authenticator app was removed.")


@router.post(
    "/recovery-codes",
    response_model=RecoveryCodesRead,
    responses=error_responses(
        *AUTHENTICATION_ERRORS, InvalidPassword, InvalidMfaCode, MfaNotEnabled, RateLimited
    ),
)
async def regenerate_recovery_codes(
    body: PasswordAndCodeRequest,
    principal: AttachedPrincipal,
    client: ClientDep,
    service: MfaServiceDep,
) -> RecoveryCodesRead:
    """Ten new codes, shown this once; the earlier ones stop working."""
    codes = await service.regenerate_recovery_codes(
        principal.user, principal.session_id, body.password, body.code, client
    )
    return RecoveryCodesRead(recovery_codes=codes)


@passkeys_router.post(
    "/options",
    response_model=PasskeyOptionsRead,
    responses=error_responses(*AUTHENTICATION_ERRORS),
)
async def passkey_creation_options(
    principal: AttachedPrincipal, service: MfaServiceDep
) -> PasskeyOptionsRead:
    """Creation options for `navigator.credentials.create` (ES256, EdDSA and RS256;
    resident key preferred; this account's passkeys excluded). The challenge lives 5
    minutes, is used once, and dies with a credential change."""
    ceremony = await service.passkey_creation_options(principal.user)
    return PasskeyOptionsRead(challenge_id=ceremony.challenge_id, options=ceremony.options)


@passkeys_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PasskeyAddedRead,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidPasskey, PasskeyExists),
)
async def add_passkey(
    body: AddPasskeyRequest,
    principal: AttachedPrincipal,
    client: ClientDep,
    service: MfaServiceDep,
) -> PasskeyAddedRead:
    """The browser's `credential.toJSON()` for the options' challenge. The first second
    factor turns MFA on: every other session ends and the recovery codes come back, this
    once. A notice email either way."""
    added = await service.add_passkey(
        principal.user,
        principal.session_id,
        body.challenge_id,
        body.credential,
        body.name,
        client,
    )
    return PasskeyAddedRead(
        passkey=PasskeyRead.model_validate(added.passkey), recovery_codes=added.recovery_codes
    )


@passkeys_router.get(
    "", response_model=list[PasskeyRead], responses=error_responses(*AUTHENTICATION_ERRORS)
)
async def list_passkeys(principal: AttachedPrincipal, service: MfaServiceDep) -> list[PasskeyRead]:
    return [
        PasskeyRead.model_validate(item) for item in await service.list_passkeys(principal.user)
    ]


@passkeys_router.patch(
    "/{passkey_id:uuid}",
    response_model=PasskeyRead,
    responses=error_responses(*AUTHENTICATION_ERRORS, NotFound),
)
async def rename_passkey(
    passkey_id: uuid.UUID,
    body: RenamePasskeyRequest,
    principal: AttachedPrincipal,
    service: MfaServiceDep,
) -> PasskeyRead:
    """404 for an unknown id and for another account's alike."""
    return PasskeyRead.model_validate(
        await service.rename_passkey(principal.user, passkey_id, body.name)
    )


@passkeys_router.delete(
    "/{passkey_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTHENTICATION_ERRORS, InvalidPassword, NotFound, RateLimited),
)
async def remove_passkey(
    passkey_id: uuid.UUID,
    body: PasswordRequest,
    principal: AttachedPrincipal,
    client: ClientDep,
    service: MfaServiceDep,
) -> Response:
    """Behind the password. MFA stays on while an authenticator app or another passkey
    remains; a notice email."""
    await service.remove_passkey(
        principal.user, principal.session_id, passkey_id, body.password, client
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

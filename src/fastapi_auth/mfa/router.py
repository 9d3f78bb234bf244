"""HTTP for the signed-in user's second factors (`/users/me/mfa/*`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from fastapi_auth.kernel.client import ClientDep
from fastapi_auth.kernel.components import use_service
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import (
    InvalidMfaCode,
    InvalidPassword,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaSetupNotStarted,
    RateLimited,
)
from fastapi_auth.kernel.fields import MessageResponse
from fastapi_auth.kernel.principal import AUTHENTICATION_ERRORS, AttachedPrincipal
from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.mfa.schemas import (
    CodeRequest,
    PasswordAndCodeRequest,
    PasswordRequest,
    RecoveryCodesRead,
    TotpSetupRead,
)
from fastapi_auth.mfa.service import MfaService

router = APIRouter(prefix="/users/me/mfa", tags=["mfa"], route_class=GuardedRoute)

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

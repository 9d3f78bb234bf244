"""The WebAuthn ceremonies, through py_webauthn 3.x: options out, credentials checked.

Kept to this one module so the rest of the package never sees the library: what comes
back are small dataclasses, and every exception the library lets out (not only its own
`WebAuthnException`: a malformed credential also raises `KeyError`, `AttributeError` or
`binascii.Error` from inside it) becomes one of our errors. Nothing here is stateful:
challenges are kept, and spent, by the service (`ChallengeRepository`).

The signature counter is judged by the caller after the signature verified
(`counter_went_back`), never by the library: it compares the counter before the
signature, so a forged assertion carrying a low counter would look like a clone to
anyone who knows a credential id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict, parse_authentication_credential_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from fastapi_auth.kernel.errors import InvalidPasskey, PasskeyRefused

logger = logging.getLogger("fastapi_auth.mfa")

CEREMONY_TIMEOUT_MS = 5 * 60 * 1000
"""The browser's hint; the challenge's own expiry (5 minutes) is what counts."""
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
MAX_CREDENTIAL_ID_BYTES = 1023
"""The spec's limit (and the column's)."""
KNOWN_TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)


@dataclass(frozen=True)
class KnownCredential:
    """One of the account's passkeys, as an allow or exclude list names it."""

    credential_id: bytes
    transports: list[str]


@dataclass(frozen=True)
class Ceremony:
    """Options for the browser, and the challenge in them, which the server keeps."""

    challenge: bytes
    options: dict[str, Any]


@dataclass(frozen=True)
class NewCredential:
    """A registration that verified: what is stored of it."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backup_eligible: bool
    backed_up: bool
    transports: list[str]


@dataclass(frozen=True)
class Assertion:
    """What an assertion claims before it is verified: which credential (`rawId`) and,
    unsigned, whose (`userHandle`, None when the authenticator sent none)."""

    credential_id: bytes
    user_handle: bytes | None


@dataclass(frozen=True)
class VerifiedAssertion:
    sign_count: int
    backed_up: bool


def counter_went_back(stored: int, presented: int) -> bool:
    """The spec's clone signal: a counter that did not move forward, unless both are 0
    (authenticators without a counter, such as synced passkeys, always send 0)."""
    return (presented > 0 or stored > 0) and presented <= stored


def _descriptors(credentials: list[KnownCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=credential.credential_id,
            transports=[
                AuthenticatorTransport(transport)
                for transport in credential.transports
                if transport in KNOWN_TRANSPORTS
            ],
        )
        for credential in credentials
    ]


def _transports(credential: dict[str, Any]) -> list[str]:
    """The transports the browser reported (`response.transports`); the library's result
    does not carry them. Unknown values are dropped, so a stored list always reads back."""
    response = credential.get("response")
    reported = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(reported, list):
        return []
    return [item for item in reported if isinstance(item, str) and item in KNOWN_TRANSPORTS][:8]


class RelyingParty:
    """This service as a WebAuthn relying party: its id (a domain), its name, and the
    origins its pages are served from (`Settings.relying_party_*`)."""

    def __init__(self, rp_id: str, name: str, origins: list[str]) -> None:
        self.rp_id = rp_id
        self.name = name
        self.origins = list(origins)  # the library needs a list: a set raises inside it

    def creation_options(
        self,
        *,
        user_handle: bytes,
        user_name: str,
        display_name: str,
        exclude: list[KnownCredential],
    ) -> Ceremony:
        """Resident key and user verification preferred, so a passkey that can do the
        usernameless login does; the account's passkeys excluded, so one authenticator
        is not registered twice. `credProps` asks the browser whether it made a
        discoverable credential (the library takes no extensions, so it is added here)."""
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.name,
            user_id=user_handle,
            user_name=user_name,
            user_display_name=display_name,
            timeout=CEREMONY_TIMEOUT_MS,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=_descriptors(exclude),
            supported_pub_key_algs=ALGORITHMS,
        )
        as_json = options_to_json_dict(options)
        as_json["extensions"] = {"credProps": True}
        return Ceremony(challenge=options.challenge, options=as_json)

    def request_options(self, allow: list[KnownCredential]) -> Ceremony:
        """`allow` empty: any discoverable credential for this RP (the usernameless
        login); else the account's passkeys (the second step after a password)."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=CEREMONY_TIMEOUT_MS,
            allow_credentials=_descriptors(allow),
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return Ceremony(challenge=options.challenge, options=options_to_json_dict(options))

    def verify_registration(self, credential: dict[str, Any], challenge: bytes) -> NewCredential:
        """`InvalidPasskey` for anything the library refuses or cannot read: a bad
        attestation, another origin, RP id or challenge, a malformed credential."""
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                supported_pub_key_algs=ALGORITHMS,
            )
        except Exception as error:  # the library lets KeyError & co. out, see the docstring
            logger.info("passkey registration refused: %s", type(error).__name__)
            raise InvalidPasskey() from None
        if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
            raise InvalidPasskey()
        return NewCredential(
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            aaguid=verified.aaguid,
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
            transports=_transports(credential),
        )

    def read_assertion(self, credential: dict[str, Any]) -> Assertion:
        """Which credential an assertion names, to find its public key; nothing in it is
        trusted yet. `PasskeyRefused` when it cannot be read."""
        try:
            parsed = parse_authentication_credential_json(credential)
            user_handle = parsed.response.user_handle
            return Assertion(
                credential_id=bytes(parsed.raw_id),
                user_handle=bytes(user_handle) if user_handle else None,
            )
        except Exception as error:
            logger.info("passkey assertion unreadable: %s", type(error).__name__)
            raise PasskeyRefused() from None

    def verify_assertion(
        self, credential: dict[str, Any], challenge: bytes, public_key: bytes
    ) -> VerifiedAssertion:
        """The signature, challenge, origin and RP id; the counter is left to the caller
        (`counter_went_back`), which judges it only once the signature is known good."""
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                credential_public_key=public_key,
                credential_current_sign_count=0,  # switches the library's counter check off
            )
        except Exception as error:
            logger.info("passkey assertion refused: %s", type(error).__name__)
            raise PasskeyRefused() from None
        return VerifiedAssertion(
            sign_count=verified.new_sign_count, backed_up=verified.credential_backed_up
        )

"""A software WebAuthn authenticator and client, for tests without a browser.

ES256 (P-256) credentials, attestation "none", output shaped like the browser's
`PublicKeyCredential.toJSON()` (base64url strings, camelCase keys), so the tests send
what a front end sends. It controls exactly what a real one would not let a test
choose: the origin and RP id it signs for, the counter, the UV/BE/BS flags, the
credential id. From the MFA research (`/work/notes/mfa-research/softauth.py`), checked
against webauthn 3.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

# authenticatorData flag bits
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80


class CeremonyRefused(Exception):
    """What a browser would raise (`InvalidStateError`, `NotAllowedError`)."""


def _cose_es256(public_key: ec.EllipticCurvePublicKey) -> bytes:
    numbers = public_key.public_numbers()
    encoded: bytes = cbor2.dumps(
        {
            1: 2,  # kty: EC2
            3: -7,  # alg: ES256
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )
    return encoded


def _client_data(type_: str, challenge_b64: str, origin: str) -> bytes:
    """The key order browsers use."""
    return json.dumps(
        {"type": type_, "challenge": challenge_b64, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


@dataclass
class SoftCredential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """One simulated device. `counter_step=0` imitates passkey providers (Apple, Google)
    whose counter always reads 0."""

    aaguid: bytes = b"\x00" * 16
    counter_step: int = 1
    user_verified: bool = True
    backup_eligible: bool = False
    backed_up: bool = False
    credentials: dict[bytes, SoftCredential] = field(default_factory=dict)

    def _flags(self, *, attested: bool) -> int:
        flags = UP | (UV if self.user_verified else 0)
        flags |= (BE if self.backup_eligible else 0) | (BS if self.backed_up else 0)
        return flags | (AT if attested else 0)

    def create(
        self,
        options: dict[str, Any],
        origin: str,
        *,
        rp_id: str | None = None,
        credential_id: bytes | None = None,
        honour_exclude: bool = True,
    ) -> dict[str, Any]:
        """`options`: creation options' JSON form; returns RegistrationResponseJSON.
        `credential_id` reuses an id (another device claiming one already registered)."""
        rp_id = rp_id or str(options["rp"]["id"])
        excluded = {base64url_to_bytes(c["id"]) for c in options.get("excludeCredentials", [])}
        if honour_exclude and excluded & self.credentials.keys():
            raise CeremonyRefused("InvalidStateError: credential excluded")
        key = ec.generate_private_key(ec.SECP256R1())
        cred_id = credential_id or os.urandom(32)
        credential = SoftCredential(
            cred_id, key, rp_id, base64url_to_bytes(options["user"]["id"]), self.counter_step
        )
        self.credentials[cred_id] = credential
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(attested=True)])
            + struct.pack(">I", credential.sign_count)
            + self.aaguid
            + struct.pack(">H", len(cred_id))
            + cred_id
            + _cose_es256(key.public_key())
        )
        attestation_object = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        encoded_id = bytes_to_base64url(cred_id)
        return {
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": True}},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation_object),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        origin: str,
        *,
        rp_id: str | None = None,
        credential_id: bytes | None = None,
        sign_count: int | None = None,
    ) -> dict[str, Any]:
        """`options`: request options' JSON form; returns AuthenticationResponseJSON.
        An empty allow list is a discoverable login: any credential for the RP, with its
        userHandle. `sign_count` forces a counter value (a clone)."""
        rp_id = rp_id or str(options.get("rpId"))
        allowed = [base64url_to_bytes(c["id"]) for c in options.get("allowCredentials", [])]
        if credential_id is None:
            candidates = [c for c in self.credentials.values() if c.rp_id == rp_id]
            if allowed:
                candidates = [c for c in candidates if c.credential_id in allowed]
            if not candidates:
                raise CeremonyRefused("NotAllowedError: no credential")
            credential = candidates[0]
        else:
            credential = self.credentials[credential_id]
        if sign_count is None:
            credential.sign_count += self.counter_step
            sign_count = credential.sign_count
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(attested=False)])
            + struct.pack(">I", sign_count)
        )
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        encoded_id = bytes_to_base64url(credential.credential_id)
        return {
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(credential.user_handle),
            },
        }

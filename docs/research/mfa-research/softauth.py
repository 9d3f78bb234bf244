"""A minimal software WebAuthn authenticator + client, for tests without a browser.

ES256 (P-256) credentials, attestation "none", output shaped like the browser's
`PublicKeyCredential.toJSON()` (base64url strings, camelCase keys).
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


def _cose_es256(public_key: ec.EllipticCurvePublicKey) -> bytes:
    nums = public_key.public_numbers()
    return cbor2.dumps(
        {
            1: 2,  # kty: EC2
            3: -7,  # alg: ES256
            -1: 1,  # crv: P-256
            -2: nums.x.to_bytes(32, "big"),
            -3: nums.y.to_bytes(32, "big"),
        }
    )


def _client_data(type_: str, challenge_b64: str, origin: str) -> bytes:
    # Same key order browsers use; cross_origin false.
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
    """`counter_step=0` imitates passkey providers (Apple/Google) that always report 0."""

    aaguid: bytes = b"\x00" * 16
    counter_step: int = 1
    user_verified: bool = True
    backup_eligible: bool = False
    backed_up: bool = False
    credentials: dict[bytes, SoftCredential] = field(default_factory=dict)

    def _flags(self, attested: bool) -> int:
        flags = UP | (UV if self.user_verified else 0)
        flags |= (BE if self.backup_eligible else 0) | (BS if self.backed_up else 0)
        return flags | (AT if attested else 0)

    def create(self, options: dict[str, Any], origin: str, *, rp_id: str | None = None) -> dict[str, Any]:
        """`options` is the dict from options_to_json(); returns RegistrationResponseJSON."""
        rp_id = rp_id or options["rp"]["id"]
        excluded = {base64url_to_bytes(c["id"]) for c in options.get("excludeCredentials", [])}
        if excluded & self.credentials.keys():
            raise RuntimeError("InvalidStateError: credential excluded")
        key = ec.generate_private_key(ec.SECP256R1())
        cred_id = os.urandom(32)
        cred = SoftCredential(cred_id, key, rp_id, base64url_to_bytes(options["user"]["id"]))
        cred.sign_count = self.counter_step  # first counter value
        self.credentials[cred_id] = cred

        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(attested=True)])
            + struct.pack(">I", cred.sign_count)
            + self.aaguid
            + struct.pack(">H", len(cred_id))
            + cred_id
            + _cose_es256(key.public_key())
        )
        attestation_object = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        cid = bytes_to_base64url(cred_id)
        return {
            "id": cid,
            "rawId": cid,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation_object),
                "transports": ["internal"],
                # toJSON() also emits authenticatorData, publicKey, publicKeyAlgorithm;
                # py_webauthn ignores them.
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
        """`options` from options_to_json(request options); returns AuthenticationResponseJSON.

        Empty allowCredentials = discoverable: picks any credential for the RP and returns
        userHandle. `sign_count` forces a counter value (to simulate a clone).
        """
        rp_id = rp_id or options.get("rpId")
        allowed = [base64url_to_bytes(c["id"]) for c in options.get("allowCredentials", [])]
        if credential_id is None:
            candidates = [c for c in self.credentials.values() if c.rp_id == rp_id]
            if allowed:
                candidates = [c for c in candidates if c.credential_id in allowed]
            if not candidates:
                raise RuntimeError("NotAllowedError: no credential")
            cred = candidates[0]
        else:
            cred = self.credentials[credential_id]
        if sign_count is None:
            cred.sign_count += self.counter_step
            sign_count = cred.sign_count
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(attested=False)])
            + struct.pack(">I", sign_count)
        )
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        signature = cred.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )  # DER-encoded, as WebAuthn wants for ES256
        cid = bytes_to_base64url(cred.credential_id)
        return {
            "id": cid,
            "rawId": cid,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(cred.user_handle),
            },
        }

"""Encrypting secrets the service must read back (an authenticator app's seed; next,
signing keys): AES-256-GCM under a key derived with HKDF from one root secret and a
purpose label, so each kind of secret has a key of its own and a leak of one key opens
nothing else. The purpose is also the associated data: a ciphertext moved to another
purpose's column does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
VERSION = b"\x01"
"""The format's first byte, so a later key scheme can be told apart."""


class UndecryptableSecret(Exception):
    """Tampered with, or encrypted under another root secret (a `JWT_SECRET` or
    `MFA_ENCRYPTION_KEY` that changed since)."""


class SecretBox:
    def __init__(self, root_secret: str, purpose: str) -> None:
        self._purpose = purpose.encode()
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=self._purpose).derive(
            root_secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, self._purpose)

    def open(self, sealed: bytes) -> bytes:
        if sealed[:1] != VERSION:
            raise UndecryptableSecret("unknown format")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, self._purpose)
        except InvalidTag as error:
            raise UndecryptableSecret("tampered with, or sealed under another key") from error

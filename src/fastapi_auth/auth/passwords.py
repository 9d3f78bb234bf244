"""Password hashing: argon2id for new hashes, bcrypt still accepted and upgraded.

Hashing is deliberately slow, so every call runs in a worker thread: the event
loop keeps serving while both cores hash.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Protocol

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from fastapi_auth.settings import Settings

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
BCRYPT_MAX_BYTES = 72


@dataclass(frozen=True)
class Verification:
    valid: bool
    upgraded_hash: str | None = None


class PasswordHasher(Protocol):
    """The seam for a different hashing policy: hash, and verify-with-upgrade."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> Verification: ...

    async def verify_dummy(self, password: str) -> None: ...


def is_bcrypt_hash(password_hash: str) -> bool:
    return password_hash.startswith(BCRYPT_PREFIXES)


def exceeds_bcrypt_limit(password: str, password_hash: str) -> bool:
    """bcrypt only reads 72 bytes; refuse rather than accept any password sharing them."""
    return is_bcrypt_hash(password_hash) and len(password.encode()) > BCRYPT_MAX_BYTES


class PwdlibPasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost,
                    memory_cost=settings.argon2_memory_kib,
                    parallelism=settings.argon2_parallelism,
                ),
                BcryptHasher(),
            )
        )
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str) -> Verification:
        if exceeds_bcrypt_limit(password, password_hash):
            await self.verify_dummy(password)
            return Verification(valid=False)
        valid, upgraded = await asyncio.to_thread(
            self._hash.verify_and_update, password, password_hash
        )
        return Verification(valid=valid, upgraded_hash=upgraded if valid else None)

    async def verify_dummy(self, password: str) -> None:
        """Spend one real verification so an unknown email costs what a known one does."""
        dummy = await self.dummy_hash()
        await asyncio.to_thread(self._hash.verify, password, dummy)

    async def dummy_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

"""Password hashing: argon2id for new hashes, bcrypt still accepted and upgraded.

Hashing is deliberately slow, so every call runs in a worker thread: the event
loop keeps serving while every core hashes. The threads are a pool of one per
core, not asyncio's default pool (cores + 4): argon2id at OWASP's parameters is
pure CPU, so more threads than cores only take turns, and each one in flight
holds its own 19 MiB (which the allocator then keeps per thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from fastapi_auth.kernel.settings import Settings

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
BCRYPT_MAX_BYTES = 72

T = TypeVar("T")


HASHING_NICENESS = 10
"""How far hashing threads step back for the event loop (Linux nice levels: at +10 a
thread weighs a tenth of one at 0), so a burst of logins slows other logins, not every
other request."""
MAX_NICENESS = 19


def yield_cpu_to_the_event_loop() -> None:
    """Lowers this thread's scheduling priority; a no-op where threads cannot be reniced.
    Lowering one's own priority needs no privilege."""
    if hasattr(os, "setpriority"):
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):
            niceness = os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
            os.setpriority(os.PRIO_PROCESS, thread, min(MAX_NICENESS, niceness))


@functools.cache
def hashing_threads() -> ThreadPoolExecutor:
    """One pool per process, shared by every app in it: the cores are per process too."""
    return ThreadPoolExecutor(
        max_workers=os.cpu_count() or 1,
        thread_name_prefix="password-hash",
        initializer=yield_cpu_to_the_event_loop,
    )


async def off_the_loop(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(hashing_threads(), function, *args)


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
        return await off_the_loop(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str) -> Verification:
        if exceeds_bcrypt_limit(password, password_hash):
            await self.verify_dummy(password)
            return Verification(valid=False)
        valid, upgraded = await off_the_loop(self._hash.verify_and_update, password, password_hash)
        return Verification(valid=valid, upgraded_hash=upgraded if valid else None)

    async def verify_dummy(self, password: str) -> None:
        """Spend one real verification so an unknown email costs what a known one does."""
        dummy = await self.dummy_hash()
        await off_the_loop(self._hash.verify, password, dummy)

    async def dummy_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

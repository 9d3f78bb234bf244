"""Rate limits and login lockout, shared through Redis when `REDIS_URL` is set.

The counting is the `limits` library's (a moving window); what is counted is
decided here: requests per client IP for every unauthenticated endpoint that
works or mails, and emails per address. Password attempts (lockout and the
account cap) are counted before they are evaluated, in `password_attempts.py`.

If Redis stops answering, or hangs, limits fail open within `TIMEOUT_SECONDS`
and leave it alone for a while (`circuit_breaker.py`), saying so once in the log: an
outage of the limiter must not become an outage of login.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any, Literal

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from fastapi_auth.kernel.circuit_breaker import TIMEOUT_SECONDS, CircuitBreaker
from fastapi_auth.kernel.client import ClientDep
from fastapi_auth.kernel.components import components_of
from fastapi_auth.kernel.errors import RateLimited
from fastapi_auth.kernel.settings import Settings

LimitName = Literal["login", "register", "email", "token", "emails_per_address"]


def account_id(account: str) -> str:
    """Keys name accounts and addresses by digest, so the shared store holds no PII."""
    return hashlib.sha256(account.encode("utf-8")).hexdigest()[:32]


def storage_uri(settings: Settings) -> str:
    if not settings.redis_url:
        return "async+memory://"
    url = settings.redis_url.get_secret_value()
    return url if url.startswith("async+") else f"async+{url}"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._settings = settings
        options: dict[str, Any] = {}
        if settings.redis_url:
            options = {
                "key_prefix": settings.rate_limit_key_prefix,
                "implementation": "redispy",
                "socket_timeout": TIMEOUT_SECONDS,
                "socket_connect_timeout": TIMEOUT_SECONDS,
            }
        self._breaker = CircuitBreaker("the rate limiter's store (REDIS_URL)")
        storage = storage_from_string(storage_uri(settings), **options)
        assert isinstance(storage, Storage), "an async+ storage URI gives an async storage"
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._limits: dict[LimitName, RateLimitItem] = {
            "login": parse(settings.rate_limit_login),
            "register": parse(settings.rate_limit_register),
            "email": parse(settings.rate_limit_email),
            "token": parse(settings.rate_limit_token),
            "emails_per_address": parse(settings.rate_limit_emails_per_address),
        }

    async def hit(self, name: LimitName, *identity: str) -> None:
        """Count one request; raise `RateLimited` once the window is full."""
        if not self.enabled or self._breaker.is_open():
            return
        item, key = self._limits[name], account_id("\x1f".join(identity))
        try:
            allowed = await self._strategy.hit(item, name, key)
            stats = None if allowed else await self._strategy.get_window_stats(item, name, key)
        except Exception as error:
            self._breaker.failed(error)
            return
        self._breaker.succeeded()
        if stats is not None:
            raise RateLimited(self._retry_after(stats.reset_time))

    async def aclose(self) -> None:
        """Closes the Redis connections; `limits` keeps its client on the storage's bridge."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()

    def _retry_after(self, reset_time: float) -> int:
        return math.ceil(reset_time - time.time())


def RateLimit(name: LimitName) -> Any:  # noqa: N802 - used like the `Depends` it returns
    """A route dependency counting requests per client IP under the named limit."""

    async def limit_by_client_ip(request: Request, client: ClientDep) -> None:
        limiter = components_of(request.app).get(RateLimiter)
        await limiter.hit(name, "ip", client.ip_address or "unknown")

    return Depends(limit_by_client_ip)

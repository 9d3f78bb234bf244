"""Rate limits and login lockout, shared through Redis when `REDIS_URL` is set.

The counting is the `limits` library's (a moving window); what is counted is
decided here: requests per client IP for every unauthenticated endpoint that
works or mails, emails per address, and failed logins per account and IP.

If Redis stops answering, limits fail open and say so in the log: an outage
of the limiter must not become an outage of login.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Literal

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from fastapi_auth.client import ClientDep
from fastapi_auth.errors import RateLimited
from fastapi_auth.settings import Settings

logger = logging.getLogger("fastapi_auth.ratelimit")

LimitName = Literal["login", "register", "email", "token", "emails_per_address"]


def storage_uri(settings: Settings) -> str:
    if not settings.redis_url:
        return "async+memory://"
    return (
        settings.redis_url
        if settings.redis_url.startswith("async+")
        else ("async+" + settings.redis_url)
    )


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._settings = settings
        options: dict[str, Any] = {}
        if settings.redis_url:
            options = {"key_prefix": settings.rate_limit_key_prefix, "implementation": "redispy"}
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
        if not self.enabled:
            return
        item = self._limits[name]
        try:
            if await self._strategy.hit(item, name, *identity):
                return
            stats = await self._strategy.get_window_stats(item, name, *identity)
        except Exception:
            logger.exception("rate limiter storage failed; letting the request through")
            return
        raise RateLimited(math.ceil(stats.reset_time - time.time()))

    async def _epoch(self, account: str) -> int:
        return await self.storage.get(f"lockout-epoch/{account}")

    async def ensure_not_locked(self, account: str, ip: str | None) -> None:
        """Lockout is per account and client IP: an attacker at one address locks out only
        that address, never the owner logging in from elsewhere."""
        if not self.enabled:
            return
        try:
            key = f"lockout/{account}/{await self._epoch(account)}/{ip}"
            if await self.storage.get(key) <= 0:
                return
            expiry = await self.storage.get_expiry(key)
        except Exception:
            logger.exception("lockout storage failed; letting the request through")
            return
        raise RateLimited(
            math.ceil(expiry - time.time()),
            "Too many failed logins for this account; try again later.",
        )

    async def record_failed_login(self, account: str, ip: str | None) -> None:
        """After `LOCKOUT_THRESHOLD` failures, each further one doubles the lock, capped."""
        if not self.enabled:
            return
        settings = self._settings
        try:
            epoch = await self._epoch(account)
            failures = await self.storage.incr(
                f"failures/{account}/{epoch}/{ip}", settings.lockout_max_seconds
            )
            if failures < settings.lockout_threshold:
                return
            excess = failures - settings.lockout_threshold
            seconds = min(settings.lockout_max_seconds, settings.lockout_base_seconds * 2**excess)
            key = f"lockout/{account}/{epoch}/{ip}"
            await self.storage.clear(key)
            await self.storage.incr(key, seconds)
        except Exception:
            logger.exception("lockout storage failed; failure not counted")

    async def clear_failed_logins(self, account: str, ip: str | None) -> None:
        if not self.enabled:
            return
        try:
            await self.storage.clear(f"failures/{account}/{await self._epoch(account)}/{ip}")
        except Exception:
            logger.exception("lockout storage failed; failures not cleared")

    async def lift_lockouts(self, account: str) -> None:
        """A password reset proves the owner: every lock and count of the account ends."""
        if not self.enabled:
            return
        try:
            await self.storage.incr(f"lockout-epoch/{account}", 400 * 24 * 3600)
        except Exception:
            logger.exception("lockout storage failed; lockouts not lifted")


def RateLimit(name: LimitName) -> Any:  # noqa: N802 - used like the `Depends` it returns
    """A route dependency counting requests per client IP under the named limit."""

    async def limit_by_client_ip(request: Request, client: ClientDep) -> None:
        limiter: RateLimiter = request.app.state.fastapi_auth.limiter
        await limiter.hit(name, "ip", client.ip_address or "unknown")

    return Depends(limit_by_client_ip)

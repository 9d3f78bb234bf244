"""Rate limits and login lockout, shared through Redis when `REDIS_URL` is set.

The counting is the `limits` library's (a moving window); what is counted is
decided here: requests per client IP for every unauthenticated endpoint that
works or mails, and emails per address. Password attempts (lockout and the
account cap) are counted before they are evaluated, in `attempts.py`.

If Redis stops answering, limits fail open and say so in the log: an outage
of the limiter must not become an outage of login.
"""

from __future__ import annotations

import hashlib
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


def account_id(account: str) -> str:
    """Keys name accounts and addresses by digest, so the shared store holds no PII."""
    return hashlib.sha256(account.encode("utf-8")).hexdigest()[:32]


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
        item, key = self._limits[name], account_id("\x1f".join(identity))
        try:
            if await self._strategy.hit(item, name, key):
                return
            stats = await self._strategy.get_window_stats(item, name, key)
        except Exception:
            logger.exception("rate limiter storage failed; letting the request through")
            return
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
        limiter: RateLimiter = request.app.state.fastapi_auth.limiter
        await limiter.hit(name, "ip", client.ip_address or "unknown")

    return Depends(limit_by_client_ip)

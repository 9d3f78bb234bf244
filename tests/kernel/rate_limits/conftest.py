"""Apps with rate limiting on, over each limiter store this run can reach."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as redis
from fastapi import FastAPI

from fastapi_auth.kernel.components import components_of
from fastapi_auth.kernel.settings import Settings
from tests.conftest import AppFactory
from tests.services import LIMITER_STORES, REDIS_URL

LimitedAppFactory = Callable[..., Awaitable[FastAPI]]


@pytest.fixture(params=LIMITER_STORES)
def limiter_store(request: pytest.FixtureRequest) -> str:
    store: str = request.param
    return store


@pytest.fixture
async def limited_app(make_app: AppFactory, limiter_store: str) -> AsyncIterator[LimitedAppFactory]:
    """`make_app` with limits on, in process or in Redis; each app's Redis keys go at the end."""
    prefixes: set[str] = set()

    async def factory(**overrides: Any) -> FastAPI:
        settings: dict[str, Any] = {"rate_limit_enabled": True, **overrides}
        if limiter_store == "redis":
            settings.setdefault("redis_url", REDIS_URL)
        application = await make_app(**settings)
        prefixes.add(components_of(application).get(Settings).rate_limit_key_prefix)
        return application

    yield factory
    if limiter_store == "redis":
        connection = redis.from_url(REDIS_URL)
        try:
            for prefix in prefixes:
                keys = [key async for key in connection.scan_iter(match=f"{prefix}*")]
                if keys:
                    await connection.delete(*keys)
        finally:
            await connection.aclose()

"""Liveness (the process answers) and readiness (the database answers)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from fastapi_auth.kernel.components import use_part
from fastapi_auth.kernel.db import Database
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import ServiceUnavailable
from fastapi_auth.kernel.route_guard import GuardedRoute

router = APIRouter(prefix="/health", tags=["health"], route_class=GuardedRoute)


class HealthStatus(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/live", response_model=HealthStatus)
async def live() -> HealthStatus:
    return HealthStatus()


@router.get("/ready", response_model=HealthStatus, responses=error_responses(ServiceUnavailable))
async def ready(database: Annotated[Database, use_part(Database)]) -> HealthStatus:
    await database.ping()
    return HealthStatus()

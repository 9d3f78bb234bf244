"""Liveness (the process answers) and readiness (the database answers)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from fastapi_auth.errors import ServiceUnavailable, error_responses
from fastapi_auth.runtime import RuntimeDep

router = APIRouter(prefix="/health", tags=["health"])


class HealthStatus(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/live", response_model=HealthStatus)
async def live() -> HealthStatus:
    return HealthStatus()


@router.get("/ready", response_model=HealthStatus, responses=error_responses(ServiceUnavailable))
async def ready(runtime: RuntimeDep) -> HealthStatus:
    await runtime.database.ping()
    return HealthStatus()

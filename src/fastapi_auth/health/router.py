"""Liveness (the process answers) and readiness (the database answers, its schema at
the revision this version needs)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from fastapi_auth.kernel.components import use_part
from fastapi_auth.kernel.error_handlers import error_responses
from fastapi_auth.kernel.errors import SchemaOutdated, ServiceUnavailable
from fastapi_auth.kernel.route_guard import GuardedRoute
from fastapi_auth.kernel.schema_check import SchemaCheck

router = APIRouter(prefix="/health", tags=["health"], route_class=GuardedRoute)


class HealthStatus(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/live", response_model=HealthStatus)
async def live() -> HealthStatus:
    return HealthStatus()


@router.get(
    "/ready",
    response_model=HealthStatus,
    responses=error_responses(ServiceUnavailable, SchemaOutdated),
)
async def ready(schema: Annotated[SchemaCheck, use_part(SchemaCheck)]) -> HealthStatus:
    # Reading the schema's revision is the database's answer too: one query, not two.
    await schema.require_current()
    return HealthStatus()

"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rivergen.api.deps import ClientsDep, SettingsDep
from rivergen.health import Readiness, check_readiness

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: str = "ok"


_ALIVE = Liveness()


@router.get("/healthz", response_model=Liveness, summary="The process is up")
async def healthz() -> Liveness:
    return _ALIVE


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not ready"}},
    summary="Every dependency, with its latency",
)
async def readyz(clients: ClientsDep, settings: SettingsDep) -> JSONResponse:
    """Whether each dependency answers, and how fast. Public, so without why one failed (an
    error can name hosts, ports and versions): operators read that at
    `/api/v1/operations/health`."""
    report = await check_readiness(
        clients, settings.gateway.readiness_timeout_s, settings.sockets.channel
    )
    public = report.model_copy(
        update={
            "dependencies": {
                name: status.model_copy(update={"error": None})
                for name, status in report.dependencies.items()
            }
        }
    )
    return JSONResponse(public.model_dump(mode="json"), status_code=200 if report.ready else 503)

"""Probes: ``/healthz`` (the gateway process answers) and ``/readyz`` (every backend serves)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..adapters.backends import Backends

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The gateway is up (liveness)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Each backend's grpc.health.v1 status; 503 unless all are SERVING (readiness)",
    responses={503: {"description": "a backend is not serving"}},
)
async def readyz(request: Request) -> JSONResponse:
    backends: Backends = request.app.state.backends
    services = await backends.health()
    ready = all(status == "SERVING" for status in services.values())
    return JSONResponse({"ready": ready, "services": services}, status_code=200 if ready else 503)

"""The HTTP/JSON routes under ``/v1``: each one is a single gRPC call (proto ↔ JSON only, no
decisions), one module per resource in ``routes/``.

Replies are the gRPC response message as JSON (``protojson.to_json``); request bodies are the
gRPC request message as JSON, minus what the URL already says. Query parameters are typed
(bounds of the proto field, enum short names), so a value the proto could not hold is a 400
before any service sees it. Health, the event stream and the dashboard have their own modules.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from .routes import curation, dataset_versions, ontologies, prelabel, projects, quality
from .routes.common import SCHEMAS, no_nul_parameters

__all__ = ["RESOURCES", "SCHEMAS", "build_router"]

#: The resource routers, in the order the OpenAPI document lists them.
RESOURCES = (
    ontologies.router,  # ontology service
    curation.router,  # curation: datasets, items, search
    projects.router,  # routing: projects, queues, tasks
    quality.router,  # qa
    prelabel.router,  # prelabel: models, ROI
    dataset_versions.router,  # datasets: versions, manifests, files, diff
)


def build_router() -> APIRouter:
    """Every JSON route under ``/v1`` (their components: ``SCHEMAS``)."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(no_nul_parameters)])
    for resource in RESOURCES:
        router.include_router(resource)
    return router

"""Credentials and small helpers shared by the gateway tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from labelops.curation.v1 import curation_pb2 as cur
from labelops.curation.v1 import curation_pb2_grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.routing.v1 import routing_pb2 as rt
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wf
from labelops_demo.system import SERVICES, System
from labelops_gateway.config import Settings
from labelops_grpckit import channel
from labelops_testkit.waiting import eventually
from starlette.types import ASGIApp

ADMIN_KEY = "gateway-admin-key-0123456789"
VENDOR_KEY = "gateway-vendor-key-0123456789"
#: Tenant B's admin: everything within globex, nothing of acme.
OTHER_KEY = "gateway-other-tenant-admin-key-0123456789"
ML_KEY = "gateway-ml-engineer-key-0123456789"
REVIEWER_KEY = "gateway-reviewer-key-0123456789"
MANAGER_KEY = "gateway-manager-key-0123456789"
KEYS = {
    ADMIN_KEY: {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]},
    VENDOR_KEY: {
        "subject": "vendor-bot",
        "tenant_id": "acme",
        "kind": "vendor",
        "vendor_id": "acme-vendor",
    },
    OTHER_KEY: {"subject": "intruder", "tenant_id": "globex", "roles": ["admin"]},
    ML_KEY: {"subject": "ml", "tenant_id": "acme", "roles": ["ml_engineer"]},
    REVIEWER_KEY: {"subject": "rev", "tenant_id": "acme", "roles": ["reviewer"]},
    MANAGER_KEY: {"subject": "boss", "tenant_id": "acme", "roles": ["manager"]},
}
ADMIN = {"x-api-key": ADMIN_KEY}
VENDOR = {"x-api-key": VENDOR_KEY}
OTHER = {"x-api-key": OTHER_KEY}
ML = {"x-api-key": ML_KEY}
REVIEWER = {"x-api-key": REVIEWER_KEY}
MANAGER = {"x-api-key": MANAGER_KEY}


def error(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error response (asserting the shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert {"code", "message", "reason", "field_violations", "metadata"} <= set(err), err
    return err


def ontology_body(ontology_id: str) -> dict[str, Any]:
    """A CreateOntologyRequest as JSON: two whole-item classes."""
    return {
        "ontology_id": ontology_id,
        "display_name": "Pets",
        "definition": {
            "classes": [
                {"id": "cat", "name": "Cat", "geometry": "GEOMETRY_KIND_CLASSIFICATION"},
                {"id": "dog", "name": "Dog", "geometry": "GEOMETRY_KIND_CLASSIFICATION"},
            ]
        },
    }


def gateway_settings(system: System, kafka_bootstrap: str, **overrides: Any) -> Settings:
    """Settings pointing the gateway at ``system`` (targets and events topics)."""
    return Settings(
        **{f"{s}_target": t for s, t in system.targets.items()},
        kafka_bootstrap=kafka_bootstrap,
        event_topics=[system.topic(s) for s in SERVICES],
        **overrides,
    )


KEY = ADMIN["x-api-key"]
ANSWERS = {"a": "cat", "b": "dog"}


async def label_a_dataset(client: httpx.AsyncClient, system: System, name: str) -> str:
    """Ontology, curated items, a project, one label per task, accepted: the project id."""
    created = await client.post("/v1/ontologies", json=ontology_body(name), headers=ADMIN)
    revision = created.json()["ontology"]["draft_revision"]
    await client.post(
        f"/v1/ontologies/{name}/versions",
        json={"expected_revision": revision, "version": "1.0.0"},
        headers=ADMIN,
    )
    async with channel(system.targets["curation"], api_key=KEY) as ch:
        curation = curation_pb2_grpc.CurationServiceStub(ch)
        await curation.CreateDataset(cur.CreateDatasetRequest(dataset_id=name, auto_include=True))
        await curation.RegisterItems(
            iter(
                [
                    cur.RegisterItemsRequest(
                        dataset_id=name,
                        items=[
                            cur.ItemSpec(
                                external_id=x,
                                uri=f"s3://pets/{x}.txt",
                                modality=cur.MODALITY_TEXT,
                                text=f"a {c}",
                            )
                            for x, c in ANSWERS.items()
                        ],
                    )
                ]
            )
        )
    async with channel(system.targets["routing"], api_key=KEY) as ch:
        routing = routing_pb2_grpc.RoutingServiceStub(ch)
        await routing.CreatePool(
            rt.CreatePoolRequest(
                pool=rt.Pool(pool_id=name, kind=rt.POOL_KIND_IN_HOUSE, active=True)
            )
        )
        await routing.RegisterAnnotator(
            rt.RegisterAnnotatorRequest(
                annotator=rt.Annotator(annotator_id=f"{name}-ann", pool_id=name, active=True)
            )
        )
    project = {
        "project_id": name,
        "dataset_id": name,
        "ontology_id": name,
        "ontology_version": "1.0.0",
        "config": {"review_policy": "REVIEW_POLICY_NONE"},
        "rules": {"default_pools": [name]},
    }

    async def create_project() -> bool:
        r = await client.post("/v1/projects", json=project, headers=ADMIN)
        return r.status_code == 201

    await eventually(create_project)

    async def tasks() -> list[dict[str, Any]]:
        r = await client.get(f"/v1/projects/{name}/tasks", headers=ADMIN)
        listed: list[dict[str, Any]] = r.json()["tasks"]
        return listed if len(listed) == len(ANSWERS) else []

    await eventually(tasks)
    items = await client.get(f"/v1/curation/datasets/{name}/items", headers=ADMIN)
    by_item = {i["item_id"]: i["external_id"] for i in items.json()["items"]}
    async with channel(system.targets["routing"], api_key=KEY) as ch:
        work = workforce_pb2_grpc.WorkforceServiceStub(ch)
        offers = (
            await work.ClaimTasks(
                wf.ClaimTasksRequest(pool_id=name, annotator_id=f"{name}-ann", max_tasks=10)
            )
        ).offers
        assert len(offers) == len(ANSWERS)
        await work.SubmitLabels(
            wf.SubmitLabelsRequest(
                request_id=f"labels-{name}",
                submissions=[
                    wf.LabelSubmission(
                        assignment_id=o.assignment_id,
                        labels=L.ItemLabels(
                            item_id=o.item_id,
                            labels=[
                                L.Label(
                                    label_id="l",
                                    class_id=ANSWERS[by_item[o.item_id]],
                                    whole_item=L.WholeItem(),
                                )
                            ],
                        ),
                    )
                    for o in offers
                ],
            )
        )
    return name


@contextlib.asynccontextmanager
async def served(app: ASGIApp, *, access_log: bool = False) -> AsyncIterator[str]:
    """``app`` on a real socket (uvicorn, ephemeral port): yields its base URL. With
    ``access_log``: uvicorn's access log at INFO through the standard logging tree (as
    ``python -m labelops_gateway`` runs it: ``log_config=None``), so ``caplog`` sees it."""
    config = (
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
        if access_log
        else uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    if access_log:
        # An earlier served() ran uvicorn's dictConfig (handlers of its own, no propagation,
        # WARNING): put its loggers back to the plain tree, as in the gateway process.
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
            logger.disabled = False
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), timeout=10)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def projected(system: System, project_id: str, labels: int) -> None:
    """Wait until the datasets projection holds ``labels`` accepted labels of the project: a
    version cut at "latest" before that comes out short (and then its number is taken)."""
    app = system.apps["datasets"]

    async def count() -> bool:
        n = await app.pool.fetchval(
            f'SELECT count(*) FROM "{app.settings.db_schema}".accepted WHERE project_id = $1',
            project_id,
        )
        return bool(n >= labels)

    await eventually(count)

"""Every route of the gateway's table against tenant A's world: the support of the HTTP
matrix tests (another tenant, a vendor that does not work the project).

``a_world`` builds tenant A's labeled dataset with one version through the public APIs and
returns the ids to attack plus A's secrets; ``call_route`` fills a route template with ids and
calls it; ``summary`` is what two answers must share to be indistinguishable.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from gateway_support import ADMIN, ANSWERS, KEY, error, label_a_dataset, projected
from labelops.datasets.v1 import datasets_pb2 as dst
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops_demo.system import System
from labelops_gateway.entrypoints.access import ROUTE_ACTIONS
from labelops_grpckit import channel
from labelops_testkit.waiting import eventually

#: Checked in their own tests: the stream never ends (test_gateway_event_access), and a
#: create is the caller's own resource in its tenant (test_gateway_tenancy).
ELSEWHERE = {("GET", "/v1/events/stream"), ("POST", "/v1/ontologies"), ("POST", "/v1/projects")}
#: Every other route of the table, sorted.
ROUTES = sorted(k for k in ROUTE_ACTIONS if k not in ELSEWHERE)
#: Query parameters a route requires.
QUERY: dict[str, dict[str, Any]] = {
    "/v1/curation/datasets/{dataset_id}/search": {"q": "cat"},
    "/v1/datasets/{dataset_id}/diff": {"from_version": 1, "to_version": 1},
}
#: Bodies a POST route requires to get past validation to the resource.
BODY: dict[str, dict[str, Any]] = {
    "/v1/ontologies/{ontology_id}/versions": {"expected_revision": 1, "version": "2.0.0"},
}


#: The route families: the service behind each path prefix.
FAMILIES = {
    "ontology": ("/v1/ontologies",),
    "curation": ("/v1/curation/",),
    "routing": ("/v1/projects",),
    "qa": ("/quality",),
    "prelabel": ("/models", "/prelabel/"),
    "datasets": ("/v1/datasets/",),
    "dashboard": ("/v1/dashboard/",),
}


def family_of(path: str) -> str:
    """The family (service) of a route path."""
    # Most specific first: qa and prelabel routes live under /v1/projects too.
    for family in ("qa", "prelabel", "dashboard", "ontology", "curation", "datasets", "routing"):
        if any(marker in path for marker in FAMILIES[family]):
            return family
    raise AssertionError(f"no family for {path}")


def fill(path: str, ids: dict[str, str]) -> str:
    """``path`` with its ``{name}`` parameters replaced by ``ids``."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "version":
            return ids["ontology_version" if path.startswith("/v1/ontologies") else "version"]
        return ids[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


async def call_route(
    client: httpx.AsyncClient, method: str, path: str, ids: dict[str, str], headers: dict[str, str]
) -> tuple[str, httpx.Response]:
    """The filled URL and the answer of ``method path`` with ``ids``, as ``headers``' caller."""
    url = fill(path, ids)
    params = QUERY.get(path, {})
    if method == "POST":
        return url, await client.post(url, params=params, json=BODY.get(path, {}), headers=headers)
    return url, await client.request(method, url, params=params, headers=headers)


def summary(response: httpx.Response) -> tuple[int, str]:
    """Status and error reason: what an answer to A's ids and to unknown ids must share."""
    if response.status_code == 200:
        return 200, ""
    return response.status_code, error(response)["reason"]


async def a_world(client: httpx.AsyncClient, system: System, name: str) -> dict[str, str]:
    """A's labeled dataset with one version: the ids to attack and, under ``secrets``, what
    no one else may read (task, item and annotator ids, the version's digest)."""
    await label_a_dataset(client, system, name)
    tasks = (await client.get(f"/v1/projects/{name}/tasks", headers=ADMIN)).json()["tasks"]
    items = (await client.get(f"/v1/curation/datasets/{name}/items", headers=ADMIN)).json()
    await projected(system, name, len(ANSWERS))
    async with channel(system.targets["datasets"], api_key=KEY) as ch:
        datasets = datasets_pb2_grpc.DatasetServiceStub(ch)

        async def version() -> Any:
            try:
                made = await datasets.CreateDatasetVersion(
                    dst.CreateDatasetVersionRequest(
                        dataset_id=name, project_id=name, cut=dst.Cut(latest=True), version=1
                    )
                )
            except Exception:
                return None
            return made.version if made.version.rows == len(ANSWERS) else None

        made = await eventually(version)
    manifest = (await client.get(f"/v1/datasets/{name}/versions/1/manifest", headers=ADMIN)).json()
    return {
        "ontology_id": name,
        "ontology_version": "1.0.0",
        "dataset_id": name,
        "project_id": name,
        "task_id": tasks[0]["task_id"],
        "item_id": items["items"][0]["item_id"],
        "model_id": f"{name}-model",
        "version": "1",
        "path": manifest["files"][0]["path"],
        "secrets": " ".join(
            [
                *(t["task_id"] for t in tasks),
                *(i["item_id"] for i in items["items"]),
                f"{name}-ann",
                made.manifest_sha256,
            ]
        ),
    }

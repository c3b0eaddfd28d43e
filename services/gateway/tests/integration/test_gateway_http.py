"""The gateway over the six real services: what an internal tool sees over HTTP/JSON."""

from __future__ import annotations

import httpx
from gateway_support import ADMIN, ADMIN_KEY, VENDOR, error, ontology_body
from labelops_testkit.waiting import eventually


async def test_ontology_created_published_and_read_back(
    client: httpx.AsyncClient, unique_name: str
) -> None:
    created = await client.post("/v1/ontologies", json=ontology_body(unique_name), headers=ADMIN)
    assert created.status_code == 201, created.text
    ontology = created.json()["ontology"]
    assert ontology["ontology_id"] == unique_name
    # int64 as a string (proto3 JSON), defaults printed.
    assert ontology["draft_revision"] == "1" and ontology["versions"] == []

    published = await client.post(
        f"/v1/ontologies/{unique_name}/versions",
        json={"expected_revision": ontology["draft_revision"], "version": "1.0.0"},
        headers=ADMIN,
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"]["version"] == "1.0.0"

    got = await client.get(f"/v1/ontologies/{unique_name}", headers=ADMIN)
    assert got.status_code == 200
    assert got.json()["ontology"]["versions"] == ["1.0.0"]
    latest = await client.get(f"/v1/ontologies/{unique_name}/versions/latest", headers=ADMIN)
    assert latest.status_code == 200
    classes = latest.json()["version"]["definition"]["classes"]
    assert [c["id"] for c in classes] == ["cat", "dog"]
    assert classes[0]["geometry"] == "GEOMETRY_KIND_CLASSIFICATION"
    listed = await client.get("/v1/ontologies", params={"page_size": 1000}, headers=ADMIN)
    assert unique_name in [o["ontology_id"] for o in listed.json()["ontologies"]]

    # A stale revision is a version conflict: ABORTED → 409.
    stale = await client.post(
        f"/v1/ontologies/{unique_name}/versions",
        json={"expected_revision": 99},
        headers=ADMIN,
    )
    assert stale.status_code == 409, stale.text
    assert error(stale)["code"] == "ABORTED"


async def test_project_created_through_routing_once_the_version_reached_it(
    client: httpx.AsyncClient, unique_name: str
) -> None:
    created = await client.post("/v1/ontologies", json=ontology_body(unique_name), headers=ADMIN)
    revision = created.json()["ontology"]["draft_revision"]
    await client.post(
        f"/v1/ontologies/{unique_name}/versions",
        json={"expected_revision": revision, "version": "1.0.0"},
        headers=ADMIN,
    )
    project = {
        "project_id": unique_name,
        "display_name": "Pets",
        "ontology_id": unique_name,
        "ontology_version": "1.0.0",
        "config": {"review_policy": "REVIEW_POLICY_NONE"},
        "request_id": f"create-{unique_name}",
    }

    async def create() -> httpx.Response | None:
        # Routing learns the version from the ontology topic: until then the project is
        # refused with FAILED_PRECONDITION (400), which must not be mistaken for a 5xx.
        r = await client.post("/v1/projects", json=project, headers=ADMIN)
        if r.status_code == 400:
            assert error(r)["reason"] == "ONTOLOGY_VERSION_UNKNOWN", r.text
            return None
        return r

    response = await eventually(create)
    assert response.status_code == 201, response.text
    assert response.json()["project"]["project_id"] == unique_name

    got = await client.get(f"/v1/projects/{unique_name}", headers=ADMIN)
    assert got.status_code == 200
    body = got.json()
    assert body["project"]["ontology_version"] == "1.0.0"
    assert body["project"]["config"]["review_policy"] == "REVIEW_POLICY_NONE"
    assert body["rules"]["version"] == "1"
    queues = await client.get(f"/v1/projects/{unique_name}/queues", headers=ADMIN)
    assert queues.status_code == 200 and queues.json() == {"pools": []}
    tasks = await client.get(
        f"/v1/projects/{unique_name}/tasks",
        params={"state": ["queued", "in_progress"]},
        headers=ADMIN,
    )
    assert tasks.status_code == 200 and tasks.json()["tasks"] == []
    # The same request id again: replayed, not a duplicate.
    again = await client.post("/v1/projects", json=project, headers=ADMIN)
    assert again.status_code == 201
    duplicate = await client.post(
        "/v1/projects", json={**project, "request_id": f"other-{unique_name}"}, headers=ADMIN
    )
    assert duplicate.status_code == 409 and error(duplicate)["code"] == "ALREADY_EXISTS"


async def test_dataset_without_versions_lists_none(
    client: httpx.AsyncClient, unique_name: str
) -> None:
    response = await client.get(f"/v1/datasets/{unique_name}/versions", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {"versions": [], "next_page_token": ""}


async def test_errors_map_to_http_statuses_with_the_service_details(
    client: httpx.AsyncClient, unique_name: str
) -> None:
    missing = await client.get(f"/v1/ontologies/{unique_name}", headers=ADMIN)
    assert missing.status_code == 404
    assert error(missing)["code"] == "NOT_FOUND"

    # The service's own validation: BadRequest field violations reach the body.
    invalid = await client.post(
        "/v1/ontologies", json={**ontology_body("Not An Id!"), "display_name": ""}, headers=ADMIN
    )
    assert invalid.status_code == 400, invalid.text
    err = error(invalid)
    assert err["code"] == "INVALID_ARGUMENT"
    assert "ontology_id" in {v["field"] for v in err["field_violations"]}, err

    # The gateway's: a body that is not the request message.
    unknown = await client.post(
        "/v1/ontologies",
        json={**ontology_body(unique_name), "definition": {"classes": [{"colour": "red"}]}},
        headers=ADMIN,
    )
    assert unknown.status_code == 400
    violations = error(unknown)["field_violations"]
    assert violations[0]["field"] == "definition.classes[0].colour", violations
    not_json = await client.post(
        "/v1/ontologies", content=b"{nope", headers={**ADMIN, "content-type": "application/json"}
    )
    assert not_json.status_code == 400 and error(not_json)["reason"] == "BODY_NOT_JSON"
    bad_query = await client.get("/v1/ontologies", params={"page_size": -1}, headers=ADMIN)
    assert bad_query.status_code == 400
    assert error(bad_query)["field_violations"][0]["field"] == "page_size"

    anonymous = await client.get("/v1/ontologies")
    assert anonymous.status_code == 401
    assert error(anonymous)["reason"] == "CREDENTIALS_MISSING"
    wrong = await client.get("/v1/ontologies", headers={"x-api-key": "not-a-key"})
    assert wrong.status_code == 401 and error(wrong)["reason"] == "API_KEY_INVALID"
    # An API key as a bearer token works like x-api-key.
    bearer = await client.get("/v1/ontologies", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert bearer.status_code == 200, bearer.text

    vendor = await client.post("/v1/ontologies", json=ontology_body(unique_name), headers=VENDOR)
    assert vendor.status_code == 403
    # Refused by the gateway's route table (ontology.write), before the service is asked.
    assert error(vendor)["reason"] == "PERMISSION_DENIED_BY_ROLE"
    vendor_versions = await client.get(f"/v1/datasets/{unique_name}/versions", headers=VENDOR)
    assert vendor_versions.status_code == 403

    route = await client.get("/v1/nothing-here", headers=ADMIN)
    assert route.status_code == 404 and error(route)["reason"] == "ROUTE_NOT_FOUND"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["services"] == {
        s: "SERVING" for s in ("ontology", "curation", "routing", "prelabel", "qa", "datasets")
    }

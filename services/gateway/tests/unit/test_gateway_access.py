"""The gateway's own checks, with nothing behind it (closed ports): the route table, the
credentials it takes (headers, the login cookie; never a URL), the rate limit, event-stream
slots, what the event stream may show, and the logs that must never hold a key."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Depends
from gateway_support import (
    ADMIN,
    ADMIN_KEY,
    KEYS,
    ML,
    ML_KEY,
    OTHER,
    REVIEWER,
    VENDOR,
    VENDOR_KEY,
    error,
    served,
)
from labelops.routing.v1 import events_pb2 as rev
from labelops_core.authz import ROLE_ACTIONS, Action
from labelops_core.context import Principal
from labelops_gateway.adapters.events import Event
from labelops_gateway.bootstrap import create_app
from labelops_gateway.config import SERVICES, Settings
from labelops_gateway.entrypoints.access import (
    PUBLIC_ROUTES,
    ROUTE_ACTIONS,
    app_routes,
    authorize,
)
from labelops_gateway.entrypoints.event_stream import OpenStreams, visible
from labelops_gateway.entrypoints.logredact import RedactCredentials
from labelops_gateway.entrypoints.protojson import to_json
from labelops_grpckit import Authenticator


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _settings(**overrides: Any) -> Settings:
    dead = f"127.0.0.1:{_closed_port()}"
    return Settings(
        **{f"{s}_target": dead for s in SERVICES},
        kafka_bootstrap=dead,
        request_timeout_s=5,
        **overrides,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_settings(), authenticator=Authenticator(KEYS))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
    ):
        yield c


def _url(path: str) -> str:
    """A concrete URL of a route template (every parameter filled)."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "1" if m.group(1) == "version" else "x", path)


# -- the route table ------------------------------------------------------------------------


def test_every_route_of_the_app_is_in_the_table_or_public() -> None:
    app = create_app(_settings(), authenticator=Authenticator(KEYS))
    routes = {(method, path) for method, path, _ in app_routes(app)}
    assert len(routes) > 30, routes
    missing = sorted(routes - set(ROUTE_ACTIONS) - PUBLIC_ROUTES)
    assert missing == [], f"routes without an action in access.ROUTE_ACTIONS: {missing}"
    # And the table names no route that is gone, nor a route twice.
    assert sorted(set(ROUTE_ACTIONS) - routes) == []
    assert sorted(PUBLIC_ROUTES - routes) == []
    assert set(ROUTE_ACTIONS).isdisjoint(PUBLIC_ROUTES)
    # Public: probes, the login / logout endpoint, the API documentation; nothing else.
    assert {p for _, p in PUBLIC_ROUTES} == {
        "/healthz",
        "/readyz",
        "/v1/session",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }


async def test_a_route_missing_from_the_table_is_refused() -> None:
    app = create_app(_settings(), authenticator=Authenticator(KEYS))
    extra = APIRouter()

    @extra.get("/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"leaked": "yes"}

    app.include_router(extra, dependencies=[Depends(authorize)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        response = await c.get("/v1/forgotten", headers=ADMIN)
        anonymous = await c.get("/v1/forgotten")
    assert response.status_code == 403, response.text
    assert error(response)["reason"] == "ROUTE_NOT_ALLOWED"
    assert "leaked" not in response.text
    assert anonymous.status_code == 401


@pytest.mark.parametrize(("method", "path"), sorted(ROUTE_ACTIONS))
async def test_every_protected_route_refuses_no_or_a_bad_credential(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    anonymous = await client.request(method, _url(path))
    assert anonymous.status_code == 401, anonymous.text
    assert error(anonymous)["reason"] == "CREDENTIALS_MISSING"
    wrong = await client.request(method, _url(path), headers={"x-api-key": "nope"})
    assert wrong.status_code == 401
    # The key is never in a URL: a query parameter named key is no credential.
    in_url = await client.request(method, _url(path), params={"key": ADMIN_KEY})
    assert in_url.status_code == 401


_VENDOR_DENIED = sorted(k for k, a in ROUTE_ACTIONS.items() if a not in ROLE_ACTIONS["vendor"])


@pytest.mark.parametrize(("method", "path"), _VENDOR_DENIED)
async def test_a_vendor_is_refused_every_route_outside_its_row(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    # Refused by the gateway itself: no service is up, so a 403 is the table's.
    response = await client.request(method, _url(path), headers=VENDOR)
    assert response.status_code == 403, response.text
    assert error(response)["reason"] == "PERMISSION_DENIED_BY_ROLE"


async def test_roles_get_what_their_row_allows_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    # A reviewer may read projects (the gateway lets it through; routing is down: 503) but may
    # not stream events nor create a project (403 before any service is asked).
    assert (await client.get("/v1/projects", headers=REVIEWER)).status_code == 503
    assert (await client.get("/v1/events/stream", headers=REVIEWER)).status_code == 403
    assert (await client.post("/v1/projects", json={}, headers=REVIEWER)).status_code == 403
    # An ml_engineer may stream (Kafka is down: 503), a vendor may not.
    assert (await client.get("/v1/events/stream", headers=ML)).status_code == 503
    assert (await client.get("/v1/events/stream", headers=VENDOR)).status_code == 403
    assert ROUTE_ACTIONS[("GET", "/v1/events/stream")] is Action.EVENTS_READ


# -- credentials: the login cookie ----------------------------------------------------------


async def test_login_sets_an_httponly_strict_cookie_that_authenticates(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.post("/v1/session", json={"api_key": "not-a-key"})
    assert bad.status_code == 401 and "set-cookie" not in bad.headers
    empty = await client.post("/v1/session", json={"api_key": ""})
    assert empty.status_code == 400
    assert ADMIN_KEY not in empty.text

    login = await client.post("/v1/session", json={"api_key": ML_KEY})
    assert login.status_code == 200, login.text
    assert login.json() == {
        "subject": "ml",
        "tenant_id": "acme",
        "kind": "user",
        "roles": ["ml_engineer"],
    }
    cookie = login.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    # Plain http (tests, a local gateway): a Secure cookie would never come back.
    assert "secure" not in attributes
    assert ML_KEY not in login.text  # the body says who, never the key

    # The cookie alone authenticates (Kafka is down: 503 means the caller got through);
    # the ml_engineer's row still applies (no project.manage).
    client.cookies.set("labelops_session", ML_KEY)
    try:
        assert (await client.get("/v1/events/stream")).status_code == 503
        assert (await client.post("/v1/projects", json={})).status_code == 403
        # A header credential wins over the cookie (a vendor header: refused as a vendor).
        assert (await client.get("/v1/events/stream", headers=VENDOR)).status_code == 403
        logout = await client.delete("/v1/session")
        assert logout.status_code == 204
        assert 'labelops_session=""' in logout.headers["set-cookie"]
        assert "max-age=0" in logout.headers["set-cookie"].lower()
    finally:
        client.cookies.clear()
    # A forged cookie is a bad credential like any other.
    client.cookies.set("labelops_session", "forged")
    try:
        assert (await client.get("/v1/events/stream")).status_code == 401
    finally:
        client.cookies.clear()


async def test_the_cookie_is_secure_over_https() -> None:
    app = create_app(_settings(), authenticator=Authenticator(KEYS))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw") as c:
        login = await c.post("/v1/session", json={"api_key": ADMIN_KEY})
    assert login.status_code == 200
    assert "secure" in {a.strip().lower() for a in login.headers["set-cookie"].split(";")}


async def test_login_attempts_are_rate_limited_per_client() -> None:
    app = create_app(
        _settings(login_rate_per_s=0.01, login_burst=3), authenticator=Authenticator(KEYS)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        statuses = [
            (await c.post("/v1/session", json={"api_key": f"guess-{i}"})).status_code
            for i in range(4)
        ]
        late = await c.post("/v1/session", json={"api_key": ADMIN_KEY})
    assert statuses == [401, 401, 401, 429]
    assert late.status_code == 429 and int(late.headers["retry-after"]) >= 1


# -- rate limits ----------------------------------------------------------------------------


async def test_a_principal_over_its_rate_gets_429_with_retry_after() -> None:
    app = create_app(
        _settings(rate_limit_per_s=0.5, rate_limit_burst=3), authenticator=Authenticator(KEYS)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        # A route refused by the table still costs a token (probing is traffic too).
        statuses = [
            (await c.get("/v1/events/stream", headers=VENDOR)).status_code for _ in range(3)
        ]
        limited = await c.get("/v1/events/stream", headers=VENDOR)
        # Another principal has its own bucket; the probes have none.
        other = await c.get("/v1/events/stream", headers=REVIEWER)
        health = await c.get("/healthz")
    assert statuses == [403, 403, 403]
    assert limited.status_code == 429, limited.text
    err = error(limited)
    assert err["code"] == "RESOURCE_EXHAUSTED" and err["reason"] == "RATE_LIMITED"
    assert limited.headers["retry-after"] == "2"  # one token at 0.5/s
    assert other.status_code == 403 and health.status_code == 200


async def test_a_rate_of_zero_is_no_limit() -> None:
    app = create_app(
        _settings(rate_limit_per_s=0, rate_limit_burst=1), authenticator=Authenticator(KEYS)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        statuses = {
            (await c.get("/v1/events/stream", headers=VENDOR)).status_code for _ in range(5)
        }
    assert statuses == {403}


def test_event_stream_slots_per_principal_and_in_all() -> None:
    streams = OpenStreams(limit=3, per_principal=2)
    feeds: list[Any] = [object() for _ in range(4)]
    streams.add(feeds[0], "a")
    streams.add(feeds[1], "a")
    with pytest.raises(Exception) as one_too_many:
        streams.add(feeds[2], "a")
    assert getattr(one_too_many.value, "reason", "") == "TOO_MANY_STREAMS_FOR_PRINCIPAL"
    streams.add(feeds[2], "b")
    with pytest.raises(Exception) as full:
        streams.add(feeds[3], "c")
    assert getattr(full.value, "reason", "") == "TOO_MANY_STREAMS"
    streams.discard(feeds[0])
    assert streams.held("a") == 1 and len(streams) == 2
    streams.add(feeds[3], "a")


# -- what the event stream shows ------------------------------------------------------------

_ML = Principal("ml", "acme", roles=frozenset({"ml_engineer"}))
_MANAGER = Principal("boss", "acme", roles=frozenset({"manager"}))
_OTHER = Principal("intruder", "globex", roles=frozenset({"admin"}))


def _event(type_name: str, payload: Any, tenant_id: str = "acme") -> Event:
    data = {"event_id": "e1", "type": type_name, "tenant_id": tenant_id, "payload": payload}
    return Event("e1", type_name, tenant_id, data)


def test_events_of_another_tenant_or_of_none_are_never_shown() -> None:
    event = _event("labelops.ontology.v1.OntologyCreated", {"ontology_id": "pets"})
    assert visible(event, _ML) is not None
    assert visible(event, _OTHER) is None
    tenantless = _event("labelops.ontology.v1.OntologyCreated", {}, tenant_id="")
    assert visible(tenantless, _ML) is None and visible(tenantless, _OTHER) is None


def test_gold_answers_and_flags_are_stripped_without_gold_read() -> None:
    created = rev.TaskCreated(project_id="p", task_id="t", gold=True)
    created.gold_expected.item_id = "i"
    created.gold_expected.labels.add(label_id="l", class_id="cat")
    payload = to_json(created)
    assert {"gold", "gold_expected"} <= set(payload)
    event = _event("labelops.routing.v1.TaskCreated", payload)

    shown = visible(event, _ML)
    assert shown is not None
    assert "gold" not in shown.data["payload"] and "gold_expected" not in shown.data["payload"]
    assert shown.data["payload"]["task_id"] == "t"
    assert "cat" not in str(shown.data)
    # The original is untouched (each stream decides for its own caller).
    assert event.data["payload"]["gold"] is True
    kept = visible(event, _MANAGER)
    assert kept is not None and kept.data["payload"]["gold_expected"]["labels"]

    scored = _event("labelops.qa.v1.GoldScored", {"task_id": "t", "expected_class": "cat"})
    assert visible(scored, _ML) is None
    assert visible(scored, _MANAGER) is not None
    undecoded = _event("labelops.routing.v9.Future", None)
    assert visible(undecoded, _ML) is None


def test_every_gold_field_of_every_event_message_is_stripped() -> None:
    # Generated from the protos: a new gold field in any event cannot be forgotten.
    from google.protobuf import descriptor_pool
    from labelops_gateway.adapters.events import load_proto_registry

    load_proto_registry()
    pool = descriptor_pool.Default()
    checked = 0
    for module in ("routing", "qa", "ontology", "curation", "prelabel", "datasets"):
        fd = pool.FindFileByName(f"labelops/{module}/v1/events.proto")
        for message in fd.message_types_by_name.values():
            gold = [f.name for f in message.fields if "gold" in f.name]
            if not gold:
                continue
            payload = {f: True for f in gold} | {"task_id": "t"}
            shown = visible(_event(message.full_name, payload), _ML)
            assert shown is None or set(gold).isdisjoint(shown.data["payload"]), message
            checked += 1
    assert checked >= 2  # TaskCreated, LabelSubmitted at least


# -- logs -----------------------------------------------------------------------------------


def test_the_redacting_filter_rewrites_credentials_in_access_log_records() -> None:
    redact = RedactCredentials(("labelops_session",))
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "1.2.3.4:5",
            "GET",
            f"/dashboard/?key={ADMIN_KEY}&project=p&api_key=k2&token=t3",
            "1.1",
            200,
        ),
        None,
    )
    assert redact.filter(record)
    line = record.getMessage()
    assert ADMIN_KEY not in line and "k2" not in line and "t3" not in line
    assert "project=p" in line and line.count("[redacted]") == 3
    assert redact.scrub(f"Authorization: Bearer {ADMIN_KEY}") == "Authorization: Bearer [redacted]"
    assert ADMIN_KEY not in redact.scrub(f"cookie: labelops_session={ADMIN_KEY}")


async def test_no_key_or_cookie_value_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(_settings(), authenticator=Authenticator(KEYS))
    secrets = (ADMIN_KEY, VENDOR_KEY, ML_KEY, "cookie-secret-value")
    with caplog.at_level(logging.DEBUG):
        async with served(app, access_log=True) as base:
            async with httpx.AsyncClient(base_url=base) as http:
                await http.get("/dashboard/", params={"key": ADMIN_KEY})
                await http.get("/v1/projects", params={"api_key": VENDOR_KEY}, headers=ADMIN)
                await http.get("/v1/events/stream", headers={"authorization": f"Bearer {ML_KEY}"})
                await http.post("/v1/session", json={"api_key": ML_KEY})
                await http.post("/v1/session", json={"api_key": "cookie-secret-value"})
                http.cookies.set("labelops_session", "cookie-secret-value")
                await http.get("/v1/projects")
                await http.get("/v1/projects", headers=OTHER)
    # Everything the server side logged (the test's own HTTP client logs its URLs: not ours).
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "".join(f"{r.getMessage()} {r.args} {r.msg}\n" for r in records)
    # The requests were logged (the test would pass vacuously otherwise)...
    access = [r for r in records if r.name == "uvicorn.access"]
    assert len(access) >= 7, text
    assert "/dashboard/?key=[redacted]" in text
    # ...and no credential is in any line.
    for secret in secrets:
        assert secret not in text


#: The gRPC method each route calls (the dashboard and the event stream are the gateway's).
ROUTE_CALLS = {
    ("GET", "/v1/ontologies"): ("ontology", "OntologyService", "ListOntologies"),
    ("POST", "/v1/ontologies"): ("ontology", "OntologyService", "CreateOntology"),
    ("GET", "/v1/ontologies/{ontology_id}"): ("ontology", "OntologyService", "GetOntology"),
    ("POST", "/v1/ontologies/{ontology_id}/versions"): (
        "ontology",
        "OntologyService",
        "PublishOntologyVersion",
    ),
    ("GET", "/v1/ontologies/{ontology_id}/versions/{version}"): (
        "ontology",
        "OntologyService",
        "GetOntologyVersion",
    ),
    ("GET", "/v1/curation/datasets"): ("curation", "CurationService", "ListDatasets"),
    ("GET", "/v1/curation/datasets/{dataset_id}"): ("curation", "CurationService", "GetDataset"),
    ("GET", "/v1/curation/datasets/{dataset_id}/items"): (
        "curation",
        "CurationService",
        "ListItems",
    ),
    ("GET", "/v1/curation/datasets/{dataset_id}/items/{item_id}"): (
        "curation",
        "CurationService",
        "GetItem",
    ),
    ("GET", "/v1/projects"): ("routing", "RoutingService", "ListProjects"),
    ("POST", "/v1/projects"): ("routing", "RoutingService", "CreateProject"),
    ("GET", "/v1/projects/{project_id}"): ("routing", "RoutingService", "GetProject"),
    ("GET", "/v1/projects/{project_id}/queues"): ("routing", "RoutingService", "GetQueueStats"),
    ("GET", "/v1/projects/{project_id}/tasks"): ("routing", "RoutingService", "ListTasks"),
    ("GET", "/v1/projects/{project_id}/tasks/{task_id}"): ("routing", "RoutingService", "GetTask"),
    ("POST", "/v1/projects/{project_id}/quality/agreement"): (
        "qa",
        "QualityService",
        "MeasureAgreement",
    ),
    ("GET", "/v1/projects/{project_id}/quality/annotators"): (
        "qa",
        "QualityService",
        "GetAnnotatorQuality",
    ),
    ("GET", "/v1/projects/{project_id}/quality/review-queue"): (
        "qa",
        "QualityService",
        "ListReviewQueue",
    ),
    ("GET", "/v1/projects/{project_id}/tasks/{task_id}/quality"): (
        "qa",
        "QualityService",
        "GetTaskQuality",
    ),
    ("GET", "/v1/projects/{project_id}/models"): ("prelabel", "PrelabelService", "ListModels"),
    ("GET", "/v1/models/{model_id}"): ("prelabel", "PrelabelService", "GetModel"),
    ("GET", "/v1/projects/{project_id}/prelabel/roi"): (
        "prelabel",
        "PrelabelService",
        "GetClassRoi",
    ),
    ("GET", "/v1/datasets/{dataset_id}/versions"): (
        "datasets",
        "DatasetService",
        "ListDatasetVersions",
    ),
    ("GET", "/v1/datasets/{dataset_id}/versions/{version}"): (
        "datasets",
        "DatasetService",
        "GetDatasetVersion",
    ),
    ("GET", "/v1/datasets/{dataset_id}/diff"): (
        "datasets",
        "DatasetService",
        "DiffDatasetVersions",
    ),
}


@pytest.mark.parametrize(("route", "call"), sorted(ROUTE_CALLS.items()))
def test_a_route_needs_what_the_method_it_calls_needs(
    route: tuple[str, str], call: tuple[str, str, str]
) -> None:
    # Same semantics as gRPC: the gateway neither lets through what the service would refuse
    # nor refuses what it would allow. (A test may read the services' tables; the gateway's
    # code never imports a service.)
    import importlib

    service, name, method = call
    try:
        access = importlib.import_module(f"labelops_{service}.entrypoints.access")
    except ModuleNotFoundError:
        pytest.skip(f"{service} has no method table yet")
    pb2 = importlib.import_module(f"labelops.{service}.v1.{service}_pb2")
    full = f"/{pb2.DESCRIPTOR.services_by_name[name].full_name}/{method}"
    assert ROUTE_ACTIONS[route] is access.METHOD_ACTIONS[full]

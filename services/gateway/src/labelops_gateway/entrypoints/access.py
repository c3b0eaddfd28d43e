"""Who may call which gateway route: ``(method, path template)`` -> the ``Action`` it needs.

The same semantics as the services' ``METHOD_ACTIONS`` (``labelops_core.authz``): one
dependency, ``authorize``, runs on every router before the route's own parameters; it
authenticates the caller (401), takes a token from its rate-limit bucket (429 with
``Retry-After``), looks the route up here and ``require``s its action (403
``PERMISSION_DENIED_BY_ROLE``); a route missing from the table is refused (403
``ROUTE_NOT_ALLOWED``: deny by default). A route's action is the action of the gRPC method it
calls, so the gateway never lets through what the service would refuse, nor refuses what it
would allow. The services check again with the forwarded credential (tenant scoping, resource
rules): the table is the gateway's first line, not its only one.

``PUBLIC_ROUTES`` need no credential (probes, the login endpoint, the API documentation); a
unit test asserts that every route of the app is in exactly one of the two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from labelops_core.audit import (
    OUTCOME_DENIED,
    OUTCOME_FAILED,
    OUTCOME_UNAUTHENTICATED,
    AuditRecord,
)
from labelops_core.authz import Action, require
from labelops_core.context import Principal
from labelops_core.errors import DomainError, ErrorCode, PermissionDenied
from labelops_grpckit import RateLimiter
from labelops_telemetry.propagation import current_trace_id

from .credentials import Creds, authenticate
from .errors import RateLimited

log = logging.getLogger(__name__)

A = Action
_ONT = "/v1/ontologies"
_CUR = "/v1/curation/datasets/{dataset_id}"
_PRJ = "/v1/projects/{project_id}"
_DST = "/v1/datasets/{dataset_id}"

#: ``(HTTP method, route path template)`` -> the action the caller needs.
ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    # ontology service
    ("GET", _ONT): A.ONTOLOGY_READ,
    ("POST", _ONT): A.ONTOLOGY_WRITE,
    ("GET", _ONT + "/{ontology_id}"): A.ONTOLOGY_READ,
    ("POST", _ONT + "/{ontology_id}/versions"): A.ONTOLOGY_WRITE,
    ("GET", _ONT + "/{ontology_id}/versions/{version}"): A.ONTOLOGY_READ,
    # curation service
    ("GET", "/v1/curation/datasets"): A.ITEMS_READ,
    ("GET", _CUR): A.ITEMS_READ,
    ("GET", _CUR + "/items"): A.ITEMS_READ,
    ("GET", _CUR + "/items/{item_id}"): A.ITEMS_READ,
    ("GET", _CUR + "/items/{item_id}/similar"): A.ITEMS_READ,
    ("GET", _CUR + "/search"): A.ITEMS_READ,
    # routing service
    ("GET", "/v1/projects"): A.PROJECT_READ,
    ("POST", "/v1/projects"): A.PROJECT_MANAGE,
    ("GET", _PRJ): A.PROJECT_READ,
    ("GET", _PRJ + "/queues"): A.PROJECT_READ,
    ("GET", _PRJ + "/tasks"): A.PROJECT_READ,
    ("GET", _PRJ + "/tasks/{task_id}"): A.PROJECT_READ,
    # qa service (MeasureAgreement is a measurement, quality.read, as in qa's table)
    ("POST", _PRJ + "/quality/agreement"): A.QUALITY_READ,
    ("GET", _PRJ + "/quality/annotators"): A.QUALITY_READ,
    ("GET", _PRJ + "/quality/review-queue"): A.QUALITY_READ,
    ("GET", _PRJ + "/tasks/{task_id}/quality"): A.QUALITY_READ,
    # prelabel service
    ("GET", _PRJ + "/models"): A.MODEL_READ,
    ("GET", "/v1/models/{model_id}"): A.MODEL_READ,
    ("GET", _PRJ + "/prelabel/roi"): A.MODEL_READ,
    # datasets service (file downloads: the version's record decides, then the store)
    ("GET", _DST + "/versions"): A.DATASET_READ,
    ("GET", _DST + "/versions/{version}"): A.DATASET_READ,
    ("GET", _DST + "/versions/{version}/manifest"): A.DATASET_READ,
    ("GET", _DST + "/versions/{version}/files/{path:path}"): A.DATASET_READ,
    ("GET", _DST + "/diff"): A.DATASET_READ,
    # served by the gateway itself: the events of the caller's tenant (gold stripped without
    # gold.read), and the dashboard's figures (a quality view; each section is the service's
    # answer to the caller, an empty section where the service refuses)
    ("GET", "/v1/events/stream"): A.EVENTS_READ,
    ("GET", "/v1/dashboard/summary"): A.QUALITY_READ,
}

#: Routes served without a credential.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        # The login endpoint authenticates the key it is given; logout only clears a cookie.
        ("POST", "/v1/session"),
        ("DELETE", "/v1/session"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
    }
)

#: ErrorInfo reason of a route that names no action.
REASON_ROUTE_NOT_ALLOWED = "ROUTE_NOT_ALLOWED"


def principal_key(p: Principal) -> tuple[str, str, str]:
    """The bucket / slot key of a principal: its tenant, kind and subject."""
    return (p.tenant_id, p.kind, p.subject)


def app_routes(app: FastAPI) -> Iterator[tuple[str, str, Callable[..., Any] | None]]:
    """``(method, full path template, endpoint)`` of every route of ``app`` (HEAD, which
    Starlette adds to GET routes, left out; mounts, which are no route, too)."""
    try:
        # FastAPI >= 0.16x keeps included routers as such: their routes' own ``path`` lacks
        # the include prefix; the route contexts have the full one.
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI flattens included routes
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for route in contexts:
        methods = getattr(route, "methods", None)
        path = getattr(route, "path", None)
        if not methods or not isinstance(path, str):
            continue
        for method in sorted(methods):
            if method == "HEAD" and "GET" in methods:
                continue
            yield method, path, getattr(route, "endpoint", None)


def _templates(app: FastAPI) -> dict[tuple[str, Any], str]:
    out: dict[tuple[str, Any], str] = {}
    for method, path, endpoint in app_routes(app):
        if out.setdefault((method, endpoint), path) != path:
            # The route is found by its endpoint: one endpoint, one path per method.
            raise RuntimeError(f"{endpoint!r} serves {method} on two paths")
    return out


def route_key(request: Request) -> tuple[str, str] | None:
    """``(method, path template)`` of the route serving ``request`` (None outside a route)."""
    endpoint = request.scope.get("endpoint")
    app: FastAPI = request.app
    templates: dict[tuple[str, Any], str] | None = getattr(app.state, "route_templates", None)
    path = templates.get((request.method, endpoint)) if templates is not None else None
    if path is None:
        # Built on first use (routes are added after the app is created); again on a miss.
        templates = app.state.route_templates = _templates(app)
        path = templates.get((request.method, endpoint))
    return (request.method, path) if path is not None else None


async def authorize(request: Request, creds: Creds) -> Principal:
    """FastAPI dependency of every protected router: the authenticated, allowed principal
    (FastAPI solves it once per request, however many times a route names it). Every refusal
    is audited (``app.state.audit``)."""
    key = route_key(request)
    action = ROUTE_ACTIONS.get(key) if key is not None else None
    principal: Principal | None = None
    try:
        principal = await authenticate(request.app.state.authenticator, creds)
        limiter: RateLimiter | None = request.app.state.rate_limiter
        wait = limiter.take(principal) if limiter is not None else 0.0
        if limiter is not None and wait > 0:
            raise RateLimited(
                f"rate limit of {limiter.rate_per_s:g} requests per second exceeded",
                retry_after_s=wait,
            )
        if action is None:
            raise PermissionDenied(
                f"{key[0] if key else request.method} {key[1] if key else request.url.path}"
                " names no action",
                reason=REASON_ROUTE_NOT_ALLOWED,
            )
        require(action, principal=principal)
    except DomainError as exc:
        audit_refusal(request, principal, action, exc)
        raise
    request.state.principal = principal
    return principal


def audit_refusal(
    request: Request, principal: Principal | None, action: Action | None, exc: DomainError
) -> None:
    """One audit record of a request the gateway refused itself (never raises)."""
    key = route_key(request)
    outcome = {
        ErrorCode.UNAUTHENTICATED: OUTCOME_UNAUTHENTICATED,
        ErrorCode.PERMISSION_DENIED: OUTCOME_DENIED,
    }.get(exc.code, OUTCOME_FAILED)
    try:
        request.app.state.audit.record(
            AuditRecord(
                tenant_id=principal.tenant_id if principal else "",
                actor_kind=principal.kind if principal else "",
                actor_id=principal.subject if principal else "",
                service="gateway",
                method=f"{request.method} {key[1] if key else request.url.path}"[:512],
                action=action.value if action else "",
                outcome=outcome,
                code=exc.code.value,
                resource=request.url.path[:512],
                reason=exc.reason,
                trace_id=current_trace_id() or "",
            )
        )
    except Exception:  # the audit sink must never fail the request
        log.exception("audit sink failed for %s %s", request.method, request.url.path)


Caller = Annotated[Principal, Depends(authorize)]

"""Composition root of the QA service: what is its own, on the shared scaffold.

``build_app`` (``labelops_servicekit.build_service``) connects or borrows a pool, migrates the
schema, runs ``wire`` below, serves QualityService + EventLogService and runs the outbox relay
and the consumers of ``entrypoints/consumers.py`` (routing's and the ontology service's
events); no I/O at import time::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()  # SIGTERM / SIGINT → graceful stop

Tests pass their own schema, service name (→ topic), topics, pool and authenticator, and
port 0; the service's objects are ``app.parts``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, TypeAlias

from labelops.qa.v1 import qa_pb2_grpc
from labelops_core.clock import utc_now
from labelops_ontologykit import OntologyVersions
from labelops_servicekit import ServiceApp, ServiceContext, Servicer, Wiring, build_service

from .adapters.read_models import ReadModels
from .application.agreement import AgreementMeasures
from .application.issues import LabelIssues
from .application.projections import RoutingProjections
from .application.queries import QaQueries
from .application.reviews import Reviews
from .application.runs import ConsensusRuns
from .application.tasks import TaskDecisions
from .config import Settings
from .domain.gold import Drift
from .entrypoints.access import METHOD_ACTIONS
from .entrypoints.consumers import QaConsumers
from .entrypoints.grpc_api import QualityServicer


@dataclass
class Parts:
    """The QA service's own objects (``app.parts``)."""

    read_models: ReadModels
    ontologies: OntologyVersions
    tasks: TaskDecisions
    projections: RoutingProjections
    reviews: Reviews
    runs: ConsensusRuns
    agreement: AgreementMeasures
    issues: LabelIssues
    queries: QaQueries


App: TypeAlias = ServiceApp[Settings, Parts]


def wire(ctx: ServiceContext[Settings]) -> Wiring[Parts]:
    s, store = ctx.settings, ctx.store
    rm = ReadModels.of(s.db_schema)
    ontologies = OntologyVersions(ctx.pool, rm.tables.ontology_versions)
    tasks = TaskDecisions(
        store,
        rm,
        review_min_score=s.review_min_score,
        box_iou=dict(s.box_iou_thresholds),
        clock=utc_now,
    )
    parts = Parts(
        read_models=rm,
        ontologies=ontologies,
        tasks=tasks,
        projections=RoutingProjections(
            store, rm, tasks, Drift(s.drift_window, s.drift_drop), utc_now
        ),
        reviews=Reviews(store, rm, ontologies),
        runs=ConsensusRuns(store, rm, tasks, utc_now),
        agreement=AgreementMeasures(store, rm),
        issues=LabelIssues(store, rm),
        queries=QaQueries(store, rm, drift_window=s.drift_window),
    )
    servicer = QualityServicer(
        parts.queries, parts.reviews, parts.runs, parts.agreement, parts.issues
    )
    return Wiring(
        parts=parts,
        servicers=[Servicer(qa_pb2_grpc.add_QualityServiceServicer_to_server, servicer)],
        consumers=QaConsumers(parts.projections, ontologies),
        method_actions=METHOD_ACTIONS,
    )


def build_app(settings: Settings, **kw: Any) -> contextlib.AbstractAsyncContextManager[App]:
    """Build, migrate and start the service; stop it on exit (``pool``, ``authenticator``:
    see ``labelops_servicekit.build_service``)."""
    return build_service(settings, wire, **kw)

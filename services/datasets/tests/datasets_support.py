"""Event builders for the datasets tests: the test plays qa, curation and the ontology service
by publishing their events, as their relays would."""

from __future__ import annotations

import uuid
from typing import Any

from labelops.curation.v1 import events_pb2 as cev
from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import events_pb2 as oev
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.qa.v1 import events_pb2 as qev
from labelops.qa.v1 import qa_pb2 as qpb
from labelops_testkit.kafka import envelope
from labelops_testkit.waiting import eventually as eventually  # re-exported for the tests

ONTOLOGY = "zoo-ontology"
#: Tenant A (every event the tests publish is of it unless named) and tenant B.
TENANT = "acme"
OTHER_TENANT = "globex"
MLOPS_KEY = "ds-mlops-key-0123456789"
VENDOR_KEY = "ds-vendor-key-0123456789"
REVIEWER_KEY = "ds-reviewer-key-0123456789"
ANNOTATOR_KEY = "ds-annotator-key-0123456789"
OTHER_MLOPS_KEY = "ds-other-mlops-key-0123456789"
KEYS = {
    MLOPS_KEY: {"subject": "mlops", "tenant_id": TENANT, "roles": ["ml_engineer"]},
    VENDOR_KEY: {"subject": "v", "tenant_id": TENANT, "kind": "vendor", "vendor_id": "v1"},
    REVIEWER_KEY: {"subject": "rev", "tenant_id": TENANT, "roles": ["reviewer"]},
    ANNOTATOR_KEY: {"subject": "ann", "tenant_id": TENANT, "roles": ["annotator"]},
    OTHER_MLOPS_KEY: {"subject": "b-ml", "tenant_id": OTHER_TENANT, "roles": ["ml_engineer"]},
}


def of_tenant(env: Any, tenant: str = TENANT) -> Any:
    """``env`` as its service's relay publishes it for ``tenant`` (a service acted)."""
    env.tenant_id = tenant
    env.actor.kind = envelope_pb2.ACTOR_KIND_SERVICE
    env.actor.id = "qa"
    return env


def item_registered(
    item_id: str, width: int = 640, height: int = 480, *, tenant: str = TENANT
) -> Any:
    e = cev.ItemRegistered(
        dataset_id="raw", item_id=item_id, uri=f"s3://raw/{item_id}.jpg", width=width, height=height
    )
    return of_tenant(envelope(e, f"datasets/raw/items/{item_id}"), tenant)


def box(
    cls: str, x: float = 10, y: float = 20, w: float = 30, h: float = 40, label_id: str = ""
) -> L.Label:
    return L.Label(
        label_id=label_id or f"{cls}-1",
        class_id=cls,
        box=L.BoundingBox(x=x, y=y, width=w, height=h),
    )


def accepted(
    project: str,
    task_id: str,
    item_id: str,
    labels: list[L.Label],
    *,
    version: str = "1.0.0",
    score: float = 1.0,
    decision: int = qpb.REVIEW_DECISION_UNSPECIFIED,
    annotators: tuple[str, ...] = ("ann-a", "ann-b"),
    stream_version: int = 1,
    tenant: str = TENANT,
) -> Any:
    e = qev.LabelAccepted(
        project_id=project,
        task_id=task_id,
        item_id=item_id,
        labels=L.ItemLabels(item_id=item_id, labels=labels),
        lineage=qev.Lineage(
            annotator_ids=list(annotators),
            label_event_ids=[str(uuid.uuid4()) for _ in annotators],
            consensus_method=qpb.CONSENSUS_METHOD_MAJORITY_VOTE,
            consensus_score=score,
            consensus_run_id="live",
            review_decision=decision,
            reviewer="rev-1" if decision else "",
            ontology_id=ONTOLOGY,
            ontology_version=version,
        ),
    )
    return of_tenant(
        envelope(e, f"projects/{project}/tasks/{task_id}", version=stream_version), tenant
    )


def other_qa_event(project: str, task_id: str) -> Any:
    e = qev.ReviewRequested(project_id=project, task_id=task_id, item_id="x", reason="test")
    return of_tenant(envelope(e, f"projects/{project}/tasks/{task_id}"))


def migration(
    from_version: str, to_version: str, rules: list[opb.MigrationRule], *, tenant: str = TENANT
) -> Any:
    e = oev.OntologyMigrationCreated(
        ontology_id=ONTOLOGY, from_version=from_version, to_version=to_version, rules=rules
    )
    return of_tenant(envelope(e, f"ontologies/{ONTOLOGY}"), tenant)


def version_published(version: str, definition: Any, *, tenant: str = TENANT) -> Any:
    """The ontology service's ``OntologyVersionPublished`` of ``definition``."""
    e = oev.OntologyVersionPublished(ontology_id=ONTOLOGY, version=version, definition=definition)
    return of_tenant(envelope(e, f"ontologies/{ONTOLOGY}"), tenant)

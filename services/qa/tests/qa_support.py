"""Helpers of the QA service tests: routing's events for a project, as routing publishes them."""

from __future__ import annotations

import asyncio
from typing import Any

from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import events_pb2 as oev
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_testkit.kafka import envelope

#: Tenant A (every event the tests publish is of it unless named) and tenant B.
TENANT = "acme"
OTHER_TENANT = "globex"
#: A manager of tenant A (reviews, runs consensus, reads gold): the fixture's stub.
MANAGER_KEY = "qa-manager-key-0123456789"
REVIEWER_KEY = "qa-reviewer-key-0123456789"
VENDOR_KEY = "qa-vendor-key-0123456789"
ANNOTATOR_KEY = "qa-annotator-key-0123456789"
OTHER_MANAGER_KEY = "qa-other-manager-key-0123456789"
OTHER_REVIEWER_KEY = "qa-other-reviewer-key-0123456789"
KEYS = {
    MANAGER_KEY: {"subject": "rita", "tenant_id": TENANT, "roles": ["manager"]},
    REVIEWER_KEY: {"subject": "rob", "tenant_id": TENANT, "roles": ["reviewer"]},
    VENDOR_KEY: {"subject": "v", "tenant_id": TENANT, "kind": "vendor", "vendor_id": "v1"},
    ANNOTATOR_KEY: {"subject": "ann-a", "tenant_id": TENANT, "roles": ["annotator"]},
    OTHER_MANAGER_KEY: {"subject": "mo", "tenant_id": OTHER_TENANT, "roles": ["manager"]},
    OTHER_REVIEWER_KEY: {"subject": "rex", "tenant_id": OTHER_TENANT, "roles": ["reviewer"]},
}
ONTOLOGY = ("animals", "1.0.0")
CLASSES = ("cat", "dog", "fox", "person")


def definition() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    for c in CLASSES:
        d.classes.add(id=c, name=c.title(), geometry=D.GEOMETRY_KIND_CLASSIFICATION)
        d.classes.add(id=f"{c}-box", name=f"{c} box", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    return d


#: Tenant B's "animals" 1.0.0: the same id and version, another definition (no fox; ferrets).
OTHER_CLASSES = ("cat", "dog", "ferret", "person")


def other_definition() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    for c in OTHER_CLASSES:
        d.classes.add(id=c, name=c.title(), geometry=D.GEOMETRY_KIND_CLASSIFICATION)
    return d


def ontology_published(tenant: str = TENANT) -> Any:
    """The tenant's "animals" 1.0.0 as the ontology service publishes it (its own definition:
    ontology ids are per tenant)."""
    oid, version = ONTOLOGY
    d = definition() if tenant == TENANT else other_definition()
    env = envelope(
        oev.OntologyVersionPublished(ontology_id=oid, version=version, definition=d),
        f"tenants/{tenant}/ontologies/{oid}",
    )
    env.tenant_id = tenant
    env.actor.kind = envelope_pb2.ACTOR_KIND_USER
    env.actor.id = "ontology-admin"
    return env


def of_tenant(env: Any, tenant: str = TENANT) -> Any:
    """``env`` as routing's relay publishes it for ``tenant``, caused by a routing user."""
    env.tenant_id = tenant
    env.actor.kind = envelope_pb2.ACTOR_KIND_USER
    env.actor.id = "routing-user"
    return env


def project_created(project_id: str, *, tenant: str = TENANT, **config: Any) -> Any:
    oid, version = ONTOLOGY
    cfg = rpb.WorkflowConfig(
        review_policy=config.pop("review_policy", rpb.REVIEW_POLICY_TARGETED),
        review_sample_rate=config.pop("review_sample_rate", 0.0),
        high_stakes_classes=config.pop("high_stakes_classes", ["person"]),
    )
    return of_tenant(
        envelope(
            rev.ProjectCreated(
                project=rpb.Project(
                    project_id=project_id, ontology_id=oid, ontology_version=version, config=cfg
                )
            ),
            f"projects/{project_id}",
        ),
        tenant,
    )


def whole(item_id: str, cls: str) -> L.ItemLabels:
    return L.ItemLabels(
        item_id=item_id, labels=[L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())]
    )


class Project:
    """Routing's events of one project: tasks and labels, in a task's stream order."""

    def __init__(self, project_id: str, tenant: str = TENANT) -> None:
        self.project_id = project_id
        self.tenant = tenant
        self.versions: dict[str, int] = {}
        self.submitted: dict[str, int] = {}
        self.required: dict[str, int] = {}
        self.annotators: dict[str, list[str]] = {}

    def _env(self, task_id: str, message: Any) -> Any:
        v = self.versions[task_id] = self.versions.get(task_id, 0) + 1
        return of_tenant(
            envelope(message, f"projects/{self.project_id}/tasks/{task_id}", version=v),
            self.tenant,
        )

    def task(
        self,
        task_id: str,
        item_id: str,
        required: int,
        *,
        gold_expected: L.ItemLabels | None = None,
    ) -> Any:
        self.required[task_id] = required
        msg = rev.TaskCreated(
            project_id=self.project_id,
            task_id=task_id,
            item_id=item_id,
            required_labels=0 if gold_expected is not None else required,
            gold=gold_expected is not None,
            ontology_id=ONTOLOGY[0],
            ontology_version=ONTOLOGY[1],
            context=L.ItemContext(width=100, height=100),
        )
        if gold_expected is not None:
            msg.gold_expected.CopyFrom(gold_expected)
        return self._env(task_id, msg)

    def label(
        self,
        task_id: str,
        item_id: str,
        annotator: str,
        labels: L.ItemLabels,
        *,
        gold: bool = False,
        prelabel_model: tuple[str, str] = ("", ""),
    ) -> Any:
        n = self.submitted[task_id] = self.submitted.get(task_id, 0) + 1
        who = self.annotators.setdefault(task_id, [])
        who.append(annotator)
        done = not gold and n == self.required[task_id]
        return self._env(
            task_id,
            rev.LabelSubmitted(
                project_id=self.project_id,
                task_id=task_id,
                item_id=item_id,
                assignment_id=f"a-{task_id}-{n}",
                annotator_id=annotator,
                ontology_id=ONTOLOGY[0],
                ontology_version=ONTOLOGY[1],
                labels=labels,
                gold=gold,
                required_labels=self.required[task_id],
                labels_submitted=n,
                task_labeled=done,
                annotator_ids=who if done else [],
                prelabel_model=prelabel_model[0],
                prelabel_model_version=prelabel_model[1],
            ),
        )


async def eventually(check: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.1)


def street(
    ids: tuple[str, str, str] = ("c", "p", "k"),
    *,
    bike_type: str = "mountain",
    occluded: bool = False,
    rides: bool = True,
) -> L.ItemLabels:
    """A rich label: a whole-item class with an answer, a person box (attributes, an answer),
    a bike box with answers nested three levels deep (vehicle → bike_type → suspension) and
    an attribute, and the relation ``rides`` person → bike."""
    c, p, k = ids
    out = L.ItemLabels(item_id="img-s")
    out.labels.add(
        label_id=c,
        class_id="cat",
        whole_item=L.WholeItem(),
        answers=[L.Answer(classification_id="time", option_id="day")],
    )
    out.labels.add(
        label_id=p,
        class_id="person-box",
        box=L.BoundingBox(x=10, y=10, width=40, height=80),
        answers=[L.Answer(classification_id="pose", option_id="sitting")],
        attributes={
            "occluded": L.AttributeValue(bool_value=occluded),
            "count": L.AttributeValue(int_value=1),
        },
    )
    out.labels.add(
        label_id=k,
        class_id="dog-box",
        box=L.BoundingBox(x=5, y=50, width=60, height=40),
        answers=[
            L.Answer(classification_id="vehicle", option_id="bike"),
            L.Answer(classification_id="bike_type", option_id=bike_type),
            L.Answer(
                classification_id="suspension", checklist=L.ChecklistAnswer(option_ids=["f", "r"])
            ),
            L.Answer(classification_id="gears", number=21),
            L.Answer(classification_id="notes", text="bell missing"),
        ],
        attributes={"color": L.AttributeValue(string_value="red")},
    )
    if rides:
        out.relations.add(relationship_id="rides", from_label_id=p, to_label_id=k)
    return out

"""The consumers' dispatch table: which events the QA service applies (docs/events.md is
generated from it), under the consumer names deployments keep their groups and dedup rows by;
each event reaches its handler decoded, and other events of the topics are skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from labelops.ontology.v1 import events_pb2 as oev
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_bus import MessageContext
from labelops_bus.dispatch import handled_events
from labelops_qa.entrypoints.consumers import QaConsumers
from labelops_testkit.kafka import envelope


def test_the_events_qa_consumes() -> None:
    rows = {(r.consumer, r.type_name) for r in handled_events(QaConsumers)}
    assert rows == {
        ("routing-labels", "labelops.routing.v1.ProjectCreated"),
        ("routing-labels", "labelops.routing.v1.ProjectConfigUpdated"),
        ("routing-labels", "labelops.routing.v1.TaskCreated"),
        ("routing-labels", "labelops.routing.v1.TaskReopened"),
        ("routing-labels", "labelops.routing.v1.LabelSubmitted"),
        ("ontology-versions", "labelops.ontology.v1.OntologyVersionPublished"),
    }
    assert all(r.why for r in handled_events(QaConsumers))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        async def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def ctx(message: Any) -> MessageContext:
    env = envelope(message, "s")
    return MessageContext(env, "t", 0, 0, None, None, {}, datetime.now(UTC), "c", env.event_id)


async def test_events_reach_their_handler_decoded_and_others_are_skipped() -> None:
    projections, ontologies = Recorder(), Recorder()
    routing = QaConsumers(projections, ontologies).dispatchers()["routing-labels"]
    conn: Any = object()
    label = rev.LabelSubmitted(project_id="p", task_id="t", annotator_id="a")
    c = ctx(label)
    await routing(c, conn)
    await routing(ctx(rev.TaskCanceled(task_id="t")), conn)  # not QA's: skipped
    await routing(ctx(rev.PoolCreated(pool=rpb.Pool(pool_id="x"))), conn)  # nor this
    await routing(ctx(rev.ProjectConfigUpdated(project_id="p")), conn)
    assert [name for name, _ in projections.calls] == ["label_submitted", "project_config_updated"]
    assert projections.calls[0][1] == (conn, label, c.envelope)
    published = ctx(oev.OntologyVersionPublished(ontology_id="o", version="1.0.0"))
    await QaConsumers(projections, ontologies).dispatchers()["ontology-versions"](published, conn)
    assert ontologies.calls == [("on_event", (published, conn))]

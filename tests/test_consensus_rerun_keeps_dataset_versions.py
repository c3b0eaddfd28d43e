"""QA and datasets together, over real gRPC, Kafka and Postgres (each service its own schema,
talking only through events): labels accepted by QA's live consensus become dataset version 1;
re-running consensus with another method (Dawid-Skene) creates a new result set in QA and
leaves version 1 — its manifest, its rows, and a rebuild of its cut — exactly as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
from labelops.curation.v1 import events_pb2 as cev
from labelops.datasets.v1 import datasets_pb2 as dpb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import qa_pb2 as qpb
from labelops.qa.v1 import qa_pb2_grpc
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_bus import read_positions
from labelops_datasets.application.projection import QA_CONSUMER
from labelops_datasets.bootstrap import build_app as build_datasets
from labelops_datasets.config import Settings as DatasetsSettings
from labelops_grpckit import Authenticator, channel
from labelops_qa.bootstrap import build_app as build_qa
from labelops_qa.config import Settings as QaSettings
from labelops_testkit.kafka import end_offsets, publish
from labelops_testkit.kafka import envelope as _envelope
from labelops_testkit.waiting import eventually

KEY = "rerun-test-key-0123456789"
TENANT = "acme"
KEYS = {KEY: {"subject": "lead", "tenant_id": TENANT, "roles": ["admin"]}}


def envelope(message: Any, stream_id: str, **kw: Any) -> Any:
    """An event of tenant ``acme`` (the tenant of the key that reads the versions back)."""
    env = _envelope(message, stream_id, **kw)
    env.tenant_id = TENANT
    return env


ONTOLOGY = ("animals", "1.0.0")
P = "rerun"


def routing_events(n_tasks: int, seed: int) -> tuple[list[Any], list[Any]]:
    """A project with review off, tasks of 3 labels each from annotators of mixed quality,
    and the curation registrations of their items."""
    rng = random.Random(seed)
    oid, version = ONTOLOGY
    project = rpb.Project(
        project_id=P,
        ontology_id=oid,
        ontology_version=version,
        config=rpb.WorkflowConfig(review_policy=rpb.REVIEW_POLICY_NONE),
    )
    envs = [envelope(rev.ProjectCreated(project=project), f"projects/{P}")]
    items = []
    annotators = {"good-1": 0.95, "good-2": 0.9, "noisy-1": 0.55, "noisy-2": 0.5}
    for i in range(n_tasks):
        task, item = str(uuid.UUID(int=rng.getrandbits(128))), f"photo-{i}"
        items.append(
            envelope(
                cev.ItemRegistered(dataset_id="raw", item_id=item, uri=f"s3://raw/{item}.jpg"),
                f"datasets/raw/items/{item}",
            )
        )
        stream, v = f"projects/{P}/tasks/{task}", 1
        envs.append(
            envelope(
                rev.TaskCreated(
                    project_id=P,
                    task_id=task,
                    item_id=item,
                    required_labels=3,
                    ontology_id=oid,
                    ontology_version=version,
                    context=L.ItemContext(width=100, height=100),
                ),
                stream,
                version=v,
            )
        )
        truth = rng.choice(["cat", "dog"])
        who = rng.sample(sorted(annotators), 3)
        for k, a in enumerate(who, start=1):
            cls = truth if rng.random() < annotators[a] else ("dog" if truth == "cat" else "cat")
            v += 1
            envs.append(
                envelope(
                    rev.LabelSubmitted(
                        project_id=P,
                        task_id=task,
                        item_id=item,
                        assignment_id=f"a-{task}-{k}",
                        annotator_id=a,
                        ontology_id=oid,
                        ontology_version=version,
                        labels=L.ItemLabels(
                            item_id=item,
                            labels=[L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())],
                        ),
                        required_labels=3,
                        labels_submitted=k,
                        task_labeled=k == 3,
                        annotator_ids=who if k == 3 else [],
                    ),
                    stream,
                    version=v,
                )
            )
    return envs, items


def ontology_published() -> Any:
    oid, version = ONTOLOGY
    d = D.OntologyDefinition()
    for c in ("cat", "dog"):
        d.classes.add(id=c, name=c.title(), geometry=D.GEOMETRY_KIND_CLASSIFICATION)
    return envelope(
        oev.OntologyVersionPublished(ontology_id=oid, version=version, definition=d),
        f"ontologies/{oid}",
    )


async def stream_rows(stub: Any, version: int) -> pa.Table:
    chunks = [
        m.arrow_ipc
        async for m in stub.StreamDatasetVersion(
            dpb.StreamDatasetVersionRequest(dataset_id="photos", version=version)
        )
    ]
    return pa.ipc.open_stream(pa.BufferReader(b"".join(chunks))).read_all()


async def test_rerunning_consensus_leaves_dataset_versions_unchanged(
    pg_pool: Any,
    pg_schema: str,
    second_schema: str,
    kafka_bootstrap: str,
    unique_name: str,
    tmp_path: Path,
) -> None:
    qa_name = f"{unique_name}q"
    routing_topic, ontology_topic = f"{unique_name}.routing", f"{unique_name}.ontology"
    curation_topic = f"{unique_name}.curation"
    qa_topic = f"labelops.{qa_name}.events.v1"
    qa_settings = QaSettings(
        db_schema=pg_schema,
        service_name=qa_name,
        kafka_bootstrap=kafka_bootstrap,
        routing_topic=routing_topic,
        ontology_topic=ontology_topic,
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
    )
    ds_settings = DatasetsSettings(
        db_schema=second_schema,
        service_name=f"{unique_name}d",
        kafka_bootstrap=kafka_bootstrap,
        qa_topic=qa_topic,
        curation_topic=curation_topic,
        ontology_topic=ontology_topic,
        store_url=str(tmp_path / "versions"),
        segment_span=16,
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
    )
    auth = Authenticator(KEYS)
    async with contextlib.AsyncExitStack() as stack:
        qa_app = await stack.enter_async_context(
            build_qa(qa_settings, pool=pg_pool, authenticator=auth)
        )
        ds_app = await stack.enter_async_context(
            build_datasets(ds_settings, pool=pg_pool, authenticator=auth)
        )
        qa = qa_pb2_grpc.QualityServiceStub(
            await stack.enter_async_context(channel(qa_app.target, api_key=KEY))
        )
        ds = datasets_pb2_grpc.DatasetServiceStub(
            await stack.enter_async_context(channel(ds_app.target, api_key=KEY))
        )
        envs, items = routing_events(40, seed=5)
        await publish(kafka_bootstrap, ontology_topic, [ontology_published()])
        await publish(kafka_bootstrap, curation_topic, items)
        await publish(kafka_bootstrap, routing_topic, envs)

        async def accepted() -> bool:
            n = await pg_pool.fetchval(f'SELECT count(*) FROM "{second_schema}".accepted')
            return n == 40

        await eventually(accepted)
        await eventually(lambda: _has_items(pg_pool, second_schema, 40))
        v1 = (
            await ds.CreateDatasetVersion(
                dpb.CreateDatasetVersionRequest(
                    dataset_id="photos", project_id=P, cut=dpb.Cut(latest=True)
                )
            )
        ).version
        assert v1.rows == 40
        before = await ds.GetDatasetVersion(dpb.GetDatasetVersionRequest(dataset_id="photos"))
        rows_before = await stream_rows(ds, 1)
        assert set(rows_before.column("consensus_method").to_pylist()) == {"majority_vote"}

        # Another method over the whole history: a new result set in QA...
        run = await qa.RunConsensus(
            qpb.RunConsensusRequest(project_id=P, method=qpb.CONSENSUS_METHOD_DAWID_SKENE)
        )
        assert run.tasks == 40
        listed = await qa.ListConsensus(qpb.ListConsensusRequest(project_id=P, run_id=run.run_id))
        assert len(listed.results) == 40

        # ...whose events reach the datasets service (its projection moves past them)...
        async def published() -> dict[int, int] | None:
            ends = await end_offsets(kafka_bootstrap, qa_topic)
            return ends if sum(ends.values()) >= sum(c.offset for c in v1.cut) + 40 else None

        ends = await eventually(published)

        async def consumed() -> bool:
            pos = await read_positions(pg_pool, second_schema, QA_CONSUMER, qa_topic)
            return all(pos.get(p, 0) >= o for p, o in ends.items() if o)

        await eventually(consumed)

        # ...and version 1 is exactly what it was: record, manifest bytes, rows, and a rebuild
        # of its cut from the projection as it is now.
        after = await ds.GetDatasetVersion(
            dpb.GetDatasetVersionRequest(dataset_id="photos", version=1)
        )
        assert after.version == before.version
        assert after.manifest_json == before.manifest_json
        assert hashlib.sha256(after.manifest_json).hexdigest() == v1.manifest_sha256
        assert (await stream_rows(ds, 1)).equals(rows_before)
        assert (
            await ds_app.parts.versions.rebuild("photos", 1, tenant_id=TENANT)
        ).digest == v1.manifest_sha256
        # A new version at the latest cut holds the same accepted labels (a consensus re-run
        # is an analysis, not a new acceptance): same files, later cut.
        v2 = (
            await ds.CreateDatasetVersion(
                dpb.CreateDatasetVersionRequest(dataset_id="photos", cut=dpb.Cut(latest=True))
            )
        ).version
        m2 = json.loads(
            (
                await ds.GetDatasetVersion(
                    dpb.GetDatasetVersionRequest(dataset_id="photos", version=2)
                )
            ).manifest_json
        )
        m1 = json.loads(before.manifest_json)
        assert [f["sha256"] for f in m2["files"]] == [f["sha256"] for f in m1["files"]]
        assert sum(c.offset for c in v2.cut) > sum(c.offset for c in v1.cut)


async def _has_items(pool: Any, schema: str, n: int) -> bool:
    return bool(await pool.fetchval(f'SELECT count(*) FROM "{schema}".items') == n)

"""Routing: labels accepted through the vendor ``Work`` stream, end to end, vs raw Kafka produce.

Setup (untimed): the routing service as its own process (real gRPC on localhost, API-key auth, its
own Postgres schema), one vendor pool, one project (one label per task, no gold), N tasks,
each of S vendor workers holding leases on N/S of them (claimed before the clock starts).

Measured: S concurrent ``Work`` streams each submit their labels in batches of B (one request
id per batch; each label a box with one classification, validated against the ontology
version). The clock stops when the outbox relay has had Kafka acknowledge every event the
submissions wrote (one ``LabelSubmitted`` per label): committed in Postgres and
acknowledged by Kafka. Acknowledgement latency: per batch, from send to the stream's answer
(the answer is sent after COMMIT).

Baseline, same run: raw aiokafka produce (idempotent, acks=all, linger 5 ms) of N serialized
``LabelSubmitted`` envelopes of the same size to a 3-partition topic. Ratio = labels/s end to
end / raw messages/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from typing import Any

import asyncpg
import grpc
import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_core.ids import new_id
from labelops_eventstore import ensure_topics
from labelops_grpckit import channel
from labelops_testkit.grpc import serving

ADMIN = "bench-admin-key-0123456789"
VENDOR = "bench-vendor-key-0123456789"


def definition() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    car = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    color = car.classifications.add(id="color", name="Color", kind=D.CLASSIFICATION_KIND_RADIO)
    for c in ("red", "blue", "white"):
        color.options.add(id=c, name=c)
    d.classes.add(id="person", name="Person", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    return d


def labels(item_id: str, i: int) -> L.ItemLabels:
    return L.ItemLabels(
        item_id=item_id,
        labels=[
            L.Label(
                label_id="l1",
                class_id="car",
                box=L.BoundingBox(x=10 + i % 50, y=20, width=120, height=80),
                answers=[L.Answer(classification_id="color", option_id="red")],
            )
        ],
    )


async def raw_produce(bootstrap: str, value: bytes, n: int) -> float:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 3)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=1 << 20,
    )
    await producer.start()
    try:
        t0 = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, key=f"t{i % 5000}".encode()) for i in range(n)
        ]
        await asyncio.gather(*futures)
        return n / (time.perf_counter() - t0)
    finally:
        await producer.stop()


async def _stream_worker(
    stub: Any, offers: list[wpb.TaskOffer], batch: int, latencies: list[float]
) -> None:
    queue: asyncio.Queue[wpb.WorkRequest | None] = asyncio.Queue()

    async def requests() -> Any:
        while (m := await queue.get()) is not None:
            yield m

    call = stub.Work(requests())
    for k in range(0, len(offers), batch):
        chunk = offers[k : k + batch]
        msg = wpb.WorkRequest(
            correlation_id=str(k),
            submit=wpb.SubmitLabelsRequest(
                request_id=new_id(),
                submissions=[
                    wpb.LabelSubmission(
                        assignment_id=o.assignment_id,
                        labels=labels(o.item_id, j),
                        time_spent_ms=3000 + j,
                        prelabel_outcome=wpb.PRELABEL_OUTCOME_NONE,
                    )
                    for j, o in enumerate(chunk)
                ],
            ),
        )
        t0 = time.perf_counter()
        await queue.put(msg)
        resp = await call.read()
        latencies.append(time.perf_counter() - t0)
        if resp.WhichOneof("kind") != "submitted":
            raise RuntimeError(f"submission failed: {resp}")
    await queue.put(None)
    call.cancel()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _kafka_count(consumer: AIOKafkaConsumer, topic: str) -> int:
    """Messages Kafka has acknowledged on ``topic`` (sum of end offsets)."""
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in parts]
    return sum((await consumer.end_offsets(tps)).values()) if tps else 0


@contextlib.asynccontextmanager
async def _service(kafka: str, pg: str, schema: str, name: str, pool_size: int) -> Any:
    """The routing service as its own process, as deployed (its own event loop and cores)."""
    port = _free_port()
    keys = {
        ADMIN: {"subject": "bench", "tenant_id": "t", "roles": ["admin"]},
        VENDOR: {"subject": "v", "tenant_id": "t", "kind": "vendor", "vendor_id": "v1"},
    }
    env = {
        **os.environ,
        "LABELOPS_API_KEYS": json.dumps(keys),
        "LABELOPS_ROUTING_PG_DSN": pg,
        "LABELOPS_ROUTING_SCHEMA": schema,
        "LABELOPS_ROUTING_SERVICE_NAME": name,
        "LABELOPS_ROUTING_KAFKA_BOOTSTRAP": kafka,
        "LABELOPS_ROUTING_HOST": "127.0.0.1",
        "LABELOPS_ROUTING_PORT": str(port),
        "LABELOPS_ROUTING_CONSUMERS_ENABLED": "false",
        "LABELOPS_ROUTING_PG_POOL_MAX_SIZE": str(pool_size),
        "LABELOPS_ROUTING_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "labelops_routing", env=env)
    target = f"127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.returncode is not None:
                raise RuntimeError(f"routing service exited with {proc.returncode}")
            try:
                if await serving(target):
                    break
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("routing service did not start")
        yield target
    finally:
        proc.terminate()
        await proc.wait()


async def run_once(
    kafka: str, pg: str, n: int, streams: int, batch: int, replicas: int = 1
) -> dict[str, Any]:
    schema = f"bench_routing_{uuid.uuid4().hex[:8]}"
    service = f"benchrouting{uuid.uuid4().hex[:6]}"
    topic = f"labelops.{service}.events.v1"
    pool = await asyncpg.create_pool(pg, min_size=1, max_size=2)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            # Replicas share the schema (one relay is active, the others stand by).
            targets = [
                await stack.enter_async_context(_service(kafka, pg, schema, service, streams + 6))
                for _ in range(replicas)
            ]
            admin_ch = await stack.enter_async_context(channel(targets[0], api_key=ADMIN))
            vendors = [
                workforce_pb2_grpc.WorkforceServiceStub(
                    await stack.enter_async_context(channel(t, api_key=VENDOR))
                )
                for t in targets
            ]
            admin = routing_pb2_grpc.RoutingServiceStub(admin_ch)
            vendor = vendors[0]
            # The ontology version as the ontology topic would deliver it.
            await pool.execute(
                f'INSERT INTO "{schema}".ontology_versions VALUES ($1, $2, $3)',
                "bench",
                "1.0.0",
                definition().SerializeToString(),
            )
            await admin.CreatePool(
                pb.CreatePoolRequest(
                    pool=pb.Pool(
                        pool_id="v1", kind=pb.POOL_KIND_VENDOR, vendor_id="v1", active=True
                    )
                )
            )
            for s in range(streams):
                await admin.RegisterAnnotator(
                    pb.RegisterAnnotatorRequest(
                        annotator=pb.Annotator(annotator_id=f"v1/w{s}", pool_id="v1", active=True)
                    )
                )
            await admin.CreateProject(
                pb.CreateProjectRequest(
                    project_id="bench",
                    ontology_id="bench",
                    ontology_version="1.0.0",
                    config=pb.WorkflowConfig(
                        overlap=pb.OverlapPolicy(default_sample_rate=0, default_annotators=2),
                        lease_seconds=3600,
                        max_tasks_per_claim=1000,
                    ),
                )
            )
            for k in range(0, n, 5000):
                await admin.CreateTasks(
                    pb.CreateTasksRequest(
                        project_id="bench",
                        items=[
                            pb.TaskItem(
                                item_id=f"item-{i}",
                                uri=f"s3://bench/{i}.jpg",
                                modality="image",
                                context=L.ItemContext(width=1920, height=1080),
                            )
                            for i in range(k, min(n, k + 5000))
                        ],
                    )
                )
            per = n // streams
            offers: list[list[wpb.TaskOffer]] = []
            for s in range(streams):
                got: list[wpb.TaskOffer] = []
                while len(got) < per:
                    resp = await vendor.ClaimTasks(
                        wpb.ClaimTasksRequest(
                            pool_id="v1",
                            annotator_id=f"v1/w{s}",
                            max_tasks=min(1000, per - len(got)),
                            project_id="bench",
                        )
                    )
                    got += resp.offers
                offers.append(got)
            before = await pool.fetchval(f'SELECT count(*) FROM "{schema}".events')
            while await _kafka_count(consumer, topic) < before:  # setup events out of the way
                await asyncio.sleep(0.01)
            latencies: list[float] = []
            t0 = time.perf_counter()
            await asyncio.gather(
                *(
                    _stream_worker(vendors[s % replicas], offers[s], batch, latencies)
                    for s in range(streams)
                )
            )
            t_acked = time.perf_counter()
            total = await pool.fetchval(f'SELECT count(*) FROM "{schema}".events')
            while await _kafka_count(consumer, topic) < total:
                await asyncio.sleep(0.002)
            t_done = time.perf_counter()
            sample = await pool.fetchval(
                f'SELECT payload FROM "{schema}".events WHERE type = $1 LIMIT 1',
                ev.LabelSubmitted.DESCRIPTOR.full_name,
            )
            envelope_size = len(
                envelope_pb2.EventEnvelope(
                    event_id=new_id(), type="labelops.routing.v1.LabelSubmitted", payload=sample
                ).SerializeToString()
            )
            labels_done = sum(len(o) for o in offers)
            lat = np.array(latencies) * 1000
            return {
                "labels": labels_done,
                "events_written": total - before,
                "streams": streams,
                "batch": batch,
                "replicas": replicas,
                "committed_per_s": labels_done / (t_acked - t0),
                "end_to_end_per_s": labels_done / (t_done - t0),
                "ack_latency_ms_p50": float(np.percentile(lat, 50)),
                "ack_latency_ms_p99": float(np.percentile(lat, 99)),
                "envelope_bytes": envelope_size,
                "sample_payload": sample,
            }
    finally:
        await consumer.stop()
        async with pool.acquire() as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()


async def bench_routing(kafka: str, pg: str, *, quick: bool = False) -> dict[str, Any]:
    n = 8_000 if quick else 40_000
    out: dict[str, Any] = {}
    for streams, batch, replicas in ((4, 100, 1), (8, 250, 1), (8, 250, 2)):
        r = await run_once(kafka, pg, n, streams, batch, replicas)
        value = envelope_pb2.EventEnvelope(
            event_id=new_id(),
            type="labelops.routing.v1.LabelSubmitted",
            stream_id=f"projects/bench/tasks/{uuid.uuid4()}",
            payload=r.pop("sample_payload"),
            source="routing",
        ).SerializeToString()
        await raw_produce(kafka, value, 2000)  # warm-up
        raw = await raw_produce(kafka, value, n)
        out[f"streams{streams}_batch{batch}_replicas{replicas}"] = {
            **{k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()},
            "raw_produce_same_bytes_per_s": round(raw),
            "ratio_end_to_end_to_raw_produce": round(r["end_to_end_per_s"] / raw, 3),
        }
    return out


if __name__ == "__main__":  # python bench/bench_routing.py [--quick]
    res = asyncio.run(
        bench_routing(
            os.environ.get("LABELOPS_KAFKA_BOOTSTRAP", "127.0.0.1:29092"),
            os.environ.get("LABELOPS_PG_DSN", "postgresql://labelops@127.0.0.1:55432/labelops"),
            quick="--quick" in sys.argv,
        )
    )
    print(json.dumps(res, indent=2))

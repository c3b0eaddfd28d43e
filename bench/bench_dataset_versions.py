"""Dataset versions on real Kafka and Postgres (``python bench/run.py dataset-versions``).

1. Produce N ``LabelAccepted`` events (one box each, realistic lineage) to a fresh 3-partition
   topic: the raw produce rate is recorded.
2. Projection rebuild: the datasets service's label projection consumes the topic from offset 0
   into a fresh schema (what "drop the projection, replay" does). Baseline: a bare aiokafka
   consumer reading the same topic with no processing, in the same run.
3. A full version of the N labels; then +10k labels and an incremental version, at growing base
   sizes (flat = the incremental time does not grow with the base).

Item metadata is loaded straight into the items table (COPY): the item projection is not what
is measured here. Events are generated on a thread while the service runs (generating them on
its event loop would starve the service's Kafka heartbeats).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as qev
from labelops.qa.v1 import qa_pb2 as qpb
from labelops_bus import ensure_topics, read_positions
from labelops_datasets.application.projection import QA_CONSUMER
from labelops_datasets.bootstrap import build_app
from labelops_datasets.config import Settings
from labelops_testkit.kafka import end_offsets

PROJECT = "bench"
CLASSES = [f"class-{i}" for i in range(20)]
STEP = 10_000


def _events(start: int, n: int, rng: random.Random) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(start, start + n):
        task = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        item = f"item-{i:08d}"
        e = qev.LabelAccepted(
            project_id=PROJECT,
            task_id=task,
            item_id=item,
            labels=L.ItemLabels(
                item_id=item,
                labels=[
                    L.Label(
                        label_id=f"l-{i}",
                        class_id=rng.choice(CLASSES),
                        box=L.BoundingBox(
                            x=rng.uniform(0, 500), y=rng.uniform(0, 300), width=40, height=30
                        ),
                        confidence=0.9,
                    )
                ],
            ),
            lineage=qev.Lineage(
                annotator_ids=[f"ann-{rng.randrange(50)}", f"ann-{rng.randrange(50)}"],
                label_event_ids=[str(uuid.uuid4()), str(uuid.uuid4())],
                consensus_method=qpb.CONSENSUS_METHOD_MAJORITY_VOTE,
                consensus_score=rng.uniform(0.5, 1.0),
                consensus_run_id="live",
                ontology_id="bench-ontology",
                ontology_version="1.0.0",
            ),
        )
        env = envelope_pb2.EventEnvelope(
            event_id=str(uuid.uuid4()),
            type=qev.LabelAccepted.DESCRIPTOR.full_name,
            stream_id=f"projects/{PROJECT}/tasks/{task}",
            stream_version=1,
            payload=e.SerializeToString(),
            source="bench",
        )
        out.append((env.stream_id.encode(), env.SerializeToString()))
    return out


async def _produce(kafka: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        t0 = time.perf_counter()
        futures = []
        for key, value in records:
            futures.append(await producer.send(topic, value, key=key))
            if len(futures) >= 20_000:
                await asyncio.gather(*futures)
                futures = []
        await asyncio.gather(*futures)
        return time.perf_counter() - t0
    finally:
        await producer.stop()


async def _raw_consume(kafka: str, topic: str, total: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        t0 = time.perf_counter()
        seen = 0
        while seen < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(v) for v in batch.values())
        return time.perf_counter() - t0
    finally:
        await consumer.stop()


async def _caught_up(pool: asyncpg.Pool, schema: str, kafka: str, topic: str) -> float:
    ends = await end_offsets(kafka, topic)
    t0 = time.perf_counter()
    while True:
        pos = await read_positions(pool, schema, QA_CONSUMER, topic)
        if all(pos.get(p, 0) >= o for p, o in ends.items()):
            return time.perf_counter() - t0
        await asyncio.sleep(0.05)


async def _writes_off(settings: Settings, pool: asyncpg.Pool, n: int) -> float:
    """Events/s of the label projection's consumer path (fetch, decode, prepare) over the
    first ``n`` records with a handler that writes nothing."""
    from labelops_datasets.bootstrap import projector

    async def nothing(batch: Any, conn: asyncpg.Connection) -> None:
        return None

    name = "writes-off"
    # The service's accepted-labels consumer path (decode, the dispatch's prepare) under
    # another consumer name and group, with a handler that writes nothing.
    projector_ = projector(
        settings,
        pool,
        QA_CONSUMER,
        handler=nothing,
        consumer=name,
        group_id=f"{settings.service_name}.{name}",
    )()
    start: list[tuple[float, int]] = []

    async def done() -> bool:
        pos = sum(
            (await read_positions(pool, settings.db_schema, name, settings.qa_topic)).values()
        )
        if not start and pos:
            start.append((time.perf_counter(), pos))
        return pos >= n

    await projector_.run_until(done, timeout=600)
    t0, n0 = start[0]
    return (n - n0) / (time.perf_counter() - t0)


async def _items(pool: asyncpg.Pool, schema: str, start: int, n: int) -> None:
    await pool.copy_records_to_table(
        "items",
        schema_name=schema,
        records=[
            (f"item-{i:08d}", "bench", f"s3://bench/item-{i:08d}.jpg", 640, 480)
            for i in range(start, start + n)
        ],
    )


async def bench_dataset_versions(kafka: str, pg: str, *, quick: bool = False) -> dict[str, Any]:
    bases = [20_000, 40_000] if quick else [250_000, 500_000, 1_000_000]
    rng = random.Random(42)
    name = f"bench-dsv-{uuid.uuid4().hex[:8]}"
    schema = name.replace("-", "_")
    topic = f"{name}.qa"
    await ensure_topics(kafka, [topic], 3)
    store = Path(tempfile.mkdtemp(prefix="labelops-bench-versions-"))
    pool = await asyncpg.create_pool(pg, min_size=2, max_size=6)
    await pool.execute(f'CREATE SCHEMA "{schema}"')
    result: dict[str, Any] = {"bases": bases, "step": STEP}
    try:
        # 1 + 2: produce the first base, then replay it into an empty projection.
        first = _events(0, bases[0], rng)
        produce_s = await _produce(kafka, topic, first)
        raw_s = await _raw_consume(kafka, topic, bases[0])
        settings = Settings(
            pg_dsn=pg,
            db_schema=schema,
            service_name=name,
            kafka_bootstrap=kafka,
            qa_topic=topic,
            curation_topic=f"{name}.curation",
            ontology_topic=f"{name}.ontology",
            store_url=str(store),
            relay_enabled=False,
            host="127.0.0.1",
            port=0,
        )
        async with build_app(settings, pool=pool) as app:
            # From the first committed batch (the group join is not the projection's speed).
            while not (
                done0 := sum((await read_positions(pool, schema, QA_CONSUMER, topic)).values())
            ):
                await asyncio.sleep(0.01)
            rebuild_s = await _caught_up(pool, schema, kafka, topic)
            n = bases[0]
            raw_rate = n / raw_s
            rebuild_rate = (n - done0) / rebuild_s
            result["produce_events_per_s"] = round(n / produce_s)
            result["raw_consume_events_per_s"] = round(raw_rate)
            result["projection_rebuild_events_per_s"] = round(rebuild_rate)
            result["projection_rebuild_vs_raw_consume"] = round(rebuild_rate / raw_rate, 3)
            # The same consumer path with the writes switched off: the Python side's ceiling.
            off_rate = await _writes_off(settings, pool, n)
            result["projection_writes_off_events_per_s"] = round(off_rate)
            result["projection_writes_off_vs_raw_consume"] = round(off_rate / raw_rate, 3)
            await _items(pool, schema, 0, n)
            created = 0
            steps = []
            for base in bases:
                if base > n:
                    await _items(pool, schema, n, base - n)
                    await _produce(kafka, topic, await asyncio.to_thread(_events, n, base - n, rng))
                    await _caught_up(pool, schema, kafka, topic)
                    n = base
                # Reuses the segments of the versions before (the base grew since).
                t0 = time.perf_counter()
                full = await app.parts.versions.create(
                    pb.CreateDatasetVersionRequest(
                        dataset_id="bench", project_id=PROJECT, cut=pb.Cut(latest=True)
                    )
                )
                full_s = time.perf_counter() - t0
                created += 1
                incs = []
                for _ in range(2 if not quick else 1):
                    await _items(pool, schema, n, STEP)
                    await _produce(kafka, topic, await asyncio.to_thread(_events, n, STEP, rng))
                    await _caught_up(pool, schema, kafka, topic)
                    n += STEP
                    t0 = time.perf_counter()
                    inc = await app.parts.versions.create(
                        pb.CreateDatasetVersionRequest(dataset_id="bench", cut=pb.Cut(latest=True))
                    )
                    incs.append((time.perf_counter() - t0, inc.version))
                    created += 1
                inc_s = statistics.median(t for t, _ in incs)
                last = incs[-1][1]
                steps.append(
                    {
                        "base_labels": full.version.labels,
                        "version_after_growth_s": round(full_s, 2),
                        "incremental_version_s": round(inc_s, 3),
                        "files": last.files,
                        "files_reused": last.files_reused,
                    }
                )
                print(steps[-1], flush=True)
                # The next base grows from here.
            result["versions"] = steps
            # A version of everything that can reuse nothing (a new split salt changes every
            # segment's fingerprint): the full build, Postgres to files.
            t0 = time.perf_counter()
            fresh = await app.parts.versions.create(
                pb.CreateDatasetVersionRequest(
                    dataset_id="bench",
                    cut=pb.Cut(latest=True),
                    filter=pb.Filter(splits=pb.Splits(salt="fresh")),
                )
            )
            full_s = time.perf_counter() - t0
            result["full_version"] = {
                "labels": fresh.version.labels,
                "seconds": round(full_s, 2),
                "labels_per_s": round(fresh.version.labels / full_s),
                "files": fresh.version.files,
                "incremental_vs_full": round(steps[-1]["incremental_version_s"] / full_s, 4),
            }
            result["incremental_growth_first_to_last"] = round(
                steps[-1]["incremental_version_s"] / steps[0]["incremental_version_s"], 2
            )
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()
        shutil.rmtree(store, ignore_errors=True)
    return result


if __name__ == "__main__":
    import argparse
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from run import infra_urls

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    kafka, pg = infra_urls()
    print(json.dumps(asyncio.run(bench_dataset_versions(kafka, pg, quick=args.quick)), indent=2))

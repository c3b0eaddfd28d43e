"""Reproducibility: a version rebuilt from offset 0 after the projection is dropped, and a
version made by a projection that crashed between its commit and its offset commit, are
byte-identical to the original / a fault-free run (real Kafka, real Postgres)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from conftest import Ds, serving, settings_for
from datasets_support import TENANT, accepted, box, item_registered, other_qa_event
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.qa.v1 import qa_pb2 as qpb
from labelops_bus import ensure_topics, read_positions
from labelops_datasets.adapters.object_store import ObjectStore
from labelops_datasets.application.projection import QA_CONSUMER
from labelops_datasets.bootstrap import projector
from labelops_testkit.kafka import publish

P = "zoo"


class Crash(Exception):
    pass


def log_events(n: int, seed: int) -> tuple[list[Any], list[Any]]:
    """Items and a label log with re-labels and unrelated qa events."""
    import random

    rng = random.Random(seed)
    items, qa = [], []
    tasks: list[tuple[str, str, int]] = []
    for i in range(n):
        t, item = str(uuid.UUID(int=rng.getrandbits(128))), f"img-{seed}-{i}"
        items.append(item_registered(item))
        tasks.append((t, item, 1))
        qa.append(accepted(P, t, item, [box(rng.choice(["cat", "dog"]), x=rng.uniform(0, 99))]))
        if rng.random() < 0.2:
            qa.append(other_qa_event(P, t))
    for k in rng.sample(range(n), n // 10):
        t, item, v = tasks[k]
        qa.append(
            accepted(
                P, t, item, [box("bird")], decision=qpb.REVIEW_DECISION_ACCEPT, stream_version=v + 1
            )
        )
    return items, qa


async def blobs(store_url: str, manifest_sha: str) -> dict[str, bytes]:
    store = ObjectStore(store_url)
    manifest = store.get_manifest(manifest_sha)
    out = {"manifest.json": store.manifest_bytes(manifest_sha)}
    for f in manifest["files"]:
        out[f["path"]] = store.get_file(f["sha256"])
    return out


async def test_rebuild_from_offset_zero_gives_identical_bytes(
    pg_pool: asyncpg.Pool, pg_schema: str, kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    first = settings_for(unique_name, pg_schema, kafka_bootstrap, tmp_path / "store-1")
    await ensure_topics(
        kafka_bootstrap, [first.qa_topic, first.curation_topic, first.ontology_topic], 3
    )
    items, qa = log_events(400, seed=1)
    await publish(kafka_bootstrap, first.curation_topic, items)
    await publish(kafka_bootstrap, first.qa_topic, qa)
    async with serving(first, pg_pool) as (app, stub):
        ds = Ds(app, stub, first, kafka_bootstrap)
        await ds.caught_up()
        cut = {p: o // 2 for p, o in (await ds.ends()).items()}
        made = [
            (
                await ds.stub.CreateDatasetVersion(
                    pb.CreateDatasetVersionRequest(
                        dataset_id="zoo-train", project_id=P, cut=pb.Cut(latest=True)
                    )
                )
            ).version,
            (
                await ds.stub.CreateDatasetVersion(
                    pb.CreateDatasetVersionRequest(
                        dataset_id="zoo-train",
                        cut=pb.Cut(
                            offsets=pb.Offsets(
                                offsets=[
                                    pb.PartitionOffset(partition=p, offset=o)
                                    for p, o in cut.items()
                                ]
                            )
                        ),
                        filter=pb.Filter(
                            class_ids=["cat", "bird"],
                            splits=pb.Splits(train=0.6, val=0.2, test=0.2, salt="x"),
                        ),
                    )
                )
            ).version,
        ]
        originals = [await blobs(first.store_url, v.manifest_sha256) for v in made]
        # Drop the projection (history, items, ontologies, positions, segment cache).
        async with pg_pool.acquire() as conn:
            await app.parts.projection.reset(conn, pg_schema)
    assert await pg_pool.fetchval(f'SELECT count(*) FROM "{pg_schema}".accepted') == 0

    # Replay from offset 0 into a wiped object store; recreate the same cuts.
    second = settings_for(
        unique_name, pg_schema, kafka_bootstrap, tmp_path / "store-2", relay_enabled=False
    )
    async with serving(second, pg_pool) as (app, stub):
        ds = Ds(app, stub, second, kafka_bootstrap)
        await ds.caught_up()
        for v, original in zip(made, originals, strict=True):
            rebuilt = await app.parts.versions.rebuild("zoo-train", v.version, tenant_id=TENANT)
            assert rebuilt.digest == v.manifest_sha256
            assert await blobs(second.store_url, rebuilt.digest) == original
            assert json.loads(original["manifest.json"])["row_count"] == v.rows > 0


async def test_crash_before_offset_commit_gives_the_fault_free_bytes(
    pg_pool: asyncpg.Pool, pg_dsn: str, kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    schemas = [f"{unique_name}_ok", f"{unique_name}_crash"]
    for s in schemas:
        await pg_pool.execute(f'CREATE SCHEMA "{s}"')
    try:
        ok = settings_for(
            f"{unique_name}-ok",
            schemas[0],
            kafka_bootstrap,
            tmp_path / "ok",
            topics=unique_name,
            relay_enabled=False,
        )
        crash = settings_for(
            f"{unique_name}-crash",
            schemas[1],
            kafka_bootstrap,
            tmp_path / "crash",
            topics=unique_name,
            relay_enabled=False,
            projection_batch=50,
        )
        await ensure_topics(kafka_bootstrap, [ok.qa_topic, ok.curation_topic, ok.ontology_topic], 3)
        items, qa = log_events(300, seed=2)
        await publish(kafka_bootstrap, ok.curation_topic, items)
        await publish(kafka_bootstrap, ok.qa_topic, qa)

        async def version(settings: Any) -> pb.DatasetVersion:
            async with serving(settings, pg_pool) as (app, stub):
                ds = Ds(app, stub, settings, kafka_bootstrap)
                await ds.caught_up()
                return (
                    await ds.stub.CreateDatasetVersion(
                        pb.CreateDatasetVersionRequest(
                            dataset_id="zoo-train", project_id=P, cut=pb.Cut(latest=True)
                        )
                    )
                ).version

        fault_free = await version(ok)

        # The crash run: the label projection dies after its third batch committed in
        # Postgres, before Kafka heard of it.
        commits = 0

        async def die(offsets: Mapping[TopicPartition, int]) -> None:
            nonlocal commits
            commits += 1
            if commits == 3:
                raise Crash

        from labelops_eventstore import load_migrations, migrate

        await migrate(pg_pool, schemas[1], load_migrations(crash.migrations_dir))
        dying = projector(crash, pg_pool, QA_CONSUMER, before_offset_commit=die)()
        with pytest.raises(Crash):
            await dying.run()
        partial = await read_positions(pg_pool, schemas[1], QA_CONSUMER, crash.qa_topic)
        assert 0 < sum(partial.values()) < len(qa)

        survived = await version(crash)
        assert survived.manifest_sha256 == fault_free.manifest_sha256
        assert await blobs(crash.store_url, survived.manifest_sha256) == await blobs(
            ok.store_url, fault_free.manifest_sha256
        )
        n_accepted = sum(1 for e in qa if e.type.endswith("LabelAccepted"))
        for s in schemas:
            assert await pg_pool.fetchval(f'SELECT count(*) FROM "{s}".accepted') == n_accepted
    finally:
        for s in schemas:
            await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')

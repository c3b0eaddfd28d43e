"""The projections of the datasets service: the log of accepted labels, item metadata, ontology
versions and migrations, written in batches (libs/bus ``BatchProjector``).

- ``accepted``: one row per ``LabelAccepted`` at (topic, partition, offset), with its Kafka
  timestamp, event id, project and task (from the record's stream id) and the payload. The hot
  path parses nothing but the envelope and only appends (COPY): a rebuild replays as fast as
  Postgres appends. Each record is applied once (the projector's positions are committed with
  the rows, and records below them are dropped).
- ``link`` (run before a version is made) then derives, for the rows appended since the last
  link and in log order: each row's ``superseded_offset`` (the offset of the task's next
  ``LabelAccepted``: the task stream is the record key, so a task's events are in one partition,
  in order) and the ontology versions a project's labels were made under
  (``project_ontologies``). A version at a cut takes, per task, the row below the cut whose
  successor (if any) is at or above it. Everything ``link`` writes follows from the log alone.
- ``segments``: which log segments hold a project's labels, so a version never scans the history.
- ``items``: the first ``ItemRegistered`` of an item (item metadata never changes after it).
- ``ontology_versions`` / ``ontology_migrations``: published versions and migration rules.

A ``LabelRejected`` or ``LabelIssueFlagged`` does not remove a task's accepted label: it stays
in new versions until the task's next ``LabelAccepted`` supersedes it (documented choice: a
suspicion is not a verdict; the re-labeled answer replaces the old one when it is accepted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from google.protobuf.message import DecodeError
from labelops.curation.v1 import events_pb2 as cev
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import events_pb2 as qev
from labelops_bus import BatchRecord, read_positions

from ..adapters.tables import Tables

log = logging.getLogger(__name__)

LABEL_ACCEPTED = qev.LabelAccepted.DESCRIPTOR.full_name
ITEM_REGISTERED = cev.ItemRegistered.DESCRIPTOR.full_name
VERSION_PUBLISHED = oev.OntologyVersionPublished.DESCRIPTOR.full_name
MIGRATION_CREATED = oev.OntologyMigrationCreated.DESCRIPTOR.full_name

#: The projections' names (consumer_positions.consumer).
QA_CONSUMER = "accepted-labels"
CURATION_CONSUMER = "items"
ONTOLOGY_CONSUMER = "ontologies"

_ACCEPTED_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "ts",
    "event_id",
    "project_id",
    "task_id",
    "payload",
)
#: Rows read per round trip while linking.
_LINK_CHUNK = 20_000
#: Analyze ``accepted`` before linking when this share of it is new (planner statistics).
_ANALYZE_SHARE = 0.2


@dataclass
class QaBatch:
    """What ``apply_qa`` writes: accepted rows and the segments they fall in."""

    rows: list[tuple[object, ...]]
    segments: set[tuple[str, int, int]]


def task_of(stream_id: str) -> tuple[str, str] | None:
    """(project, task) of a task stream id ``projects/{p}/tasks/{t}``, else None."""
    parts = stream_id.split("/")
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == "tasks":
        return parts[1], parts[3]
    return None


class Projection:
    """Batch handlers for the three consumed topics, and ``link``."""

    def __init__(self, tables: Tables, *, segment_span: int, schema: str = "") -> None:
        self.t = tables
        self.span = segment_span
        self.schema = schema or tables.accepted.split(".")[0].strip('"')

    async def on_qa_batch(self, records: Sequence[BatchRecord], conn: asyncpg.Connection) -> None:
        """``apply_qa(prepare_qa(records))`` in one call."""
        await self.apply_qa(self.prepare_qa(records), conn)

    def prepare_qa(self, records: Sequence[BatchRecord]) -> QaBatch:
        """The batch's ``LabelAccepted`` rows, built outside the transaction
        (``BatchProjector(prepare=...)`` overlaps it with the previous batch's writes)."""
        rows: list[tuple[object, ...]] = []
        segments: set[tuple[str, int, int]] = set()
        span = self.span
        for r in records:
            env = r.envelope
            if env.type != LABEL_ACCEPTED:
                continue
            key = task_of(env.stream_id)
            if key is None:  # not on a task stream: read the ids from the event itself
                e = qev.LabelAccepted.FromString(env.payload)
                key = (e.project_id, e.task_id)
            rows.append(
                (r.topic, r.partition, r.offset, r.timestamp, env.event_id, *key, env.payload)
            )
            segments.add((key[0], r.partition, r.offset // span))
        return QaBatch(rows, segments)

    async def apply_qa(self, batch: QaBatch, conn: asyncpg.Connection) -> None:
        """Append the rows (COPY, no conflict check: each record is handed over once; a
        replay needs ``reset`` first) and note their segments."""
        if not batch.rows:
            return
        # Derived state: a commit lost in a Postgres crash takes its positions with it, and the
        # batch is read again from Kafka. So the commit need not wait for the WAL flush.
        await conn.execute("SET LOCAL synchronous_commit = off")
        await conn.copy_records_to_table(
            "accepted", schema_name=self.schema, records=batch.rows, columns=list(_ACCEPTED_COLUMNS)
        )
        segments = batch.segments
        await conn.execute(
            f"INSERT INTO {self.t.segments}"
            " SELECT p, $4, pt, s FROM unnest($1::text[], $2::int[], $3::bigint[]) AS x(p, pt, s)"
            " ON CONFLICT DO NOTHING",
            [s[0] for s in segments],
            [s[1] for s in segments],
            [s[2] for s in segments],
            batch.rows[0][0],
        )

    async def link(self, pool: asyncpg.Pool, topic: str) -> dict[int, int]:
        """Link the rows appended since the last link (see the module docstring); returns the
        linked end offset per partition. One linker at a time (advisory lock); idempotent."""
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{self.schema}.link")
            positions = await read_positions(conn, self.schema, QA_CONSUMER, topic)
            linked = {
                r["partition"]: r["linked_to"]
                for r in await conn.fetch(
                    f"SELECT partition, linked_to FROM {self.t.link_positions} WHERE topic = $1",
                    topic,
                )
            }
            todo = {p: (linked.get(p, 0), end) for p, end in positions.items()}
            todo = {p: se for p, se in todo.items() if se[0] < se[1]}
            if not todo:
                return linked
            # The planner's own row estimate (never a scan of the history).
            total = await conn.fetchval(
                "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::regclass",
                self.t.accepted,
            )
            fresh = await conn.fetchval(
                f"SELECT count(*) FROM {self.t.accepted} a"
                " JOIN unnest($1::int[], $2::bigint[]) AS x(p, s)"
                ' ON a.topic = $3 AND a.partition = x.p AND a."offset" >= x.s',
                list(todo),
                [se[0] for se in todo.values()],
                topic,
            )
            if fresh >= 10_000 and fresh >= _ANALYZE_SHARE * total:
                await conn.execute(f"ANALYZE {self.t.accepted}")
            for p, (start, end) in sorted(todo.items()):
                await self._link_partition(conn, topic, p, start, end)
                linked[p] = end
            await conn.executemany(
                f"INSERT INTO {self.t.link_positions} VALUES ($1, $2, $3)"
                " ON CONFLICT (topic, partition) DO UPDATE SET linked_to = EXCLUDED.linked_to",
                [(topic, p, linked[p]) for p in todo],
            )
            return linked

    async def _link_partition(
        self, conn: asyncpg.Connection, topic: str, partition: int, start: int, end: int
    ) -> None:
        last: dict[tuple[str, str], int] = {}  # task → its latest offset seen in [start, end)
        firsts: dict[tuple[str, str], int] = {}
        superseded: list[tuple[int, int]] = []
        ontologies: dict[tuple[str, str, str], int] = {}
        bad: list[int] = []
        lo = start
        while lo < end:
            rows = await conn.fetch(
                f'SELECT "offset", project_id, task_id, payload FROM {self.t.accepted}'
                ' WHERE topic = $1 AND partition = $2 AND "offset" >= $3 AND "offset" < $4'
                ' ORDER BY "offset" LIMIT $5',
                topic,
                partition,
                lo,
                end,
                _LINK_CHUNK,
            )
            if not rows:
                break
            for r in rows:
                offset = r["offset"]
                try:
                    lineage = qev.LabelAccepted.FromString(r["payload"]).lineage
                except DecodeError:
                    bad.append(offset)
                    continue
                key = (r["project_id"], r["task_id"])
                previous = last.get(key)
                if previous is None:
                    firsts[key] = offset
                else:
                    superseded.append((previous, offset))
                last[key] = offset
                okey = (key[0], lineage.ontology_id, lineage.ontology_version)
                if okey not in ontologies:
                    ontologies[okey] = offset
            lo = rows[-1]["offset"] + 1
        if start > 0 and firsts:
            # The rows these tasks had before the range: one index probe per task.
            keys = list(firsts)
            for r in await conn.fetch(
                f'SELECT DISTINCT ON (project_id, task_id) project_id, task_id, "offset"'
                f" FROM {self.t.accepted}"
                " WHERE task_id = ANY($1::text[]) AND topic = $2 AND partition = $3"
                ' AND "offset" < $4 ORDER BY project_id, task_id, "offset" DESC',
                [k[1] for k in keys],
                topic,
                partition,
                start,
            ):
                key = (r["project_id"], r["task_id"])
                if key in firsts:
                    superseded.append((r["offset"], firsts[key]))
        if superseded:
            await conn.executemany(
                f"UPDATE {self.t.accepted} SET superseded_offset = $4"
                ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
                [(topic, partition, old, new) for old, new in superseded],
            )
        if bad:
            # Not a label: left out of every version (logged; deterministic on any replay).
            log.error(
                "accepted-labels: %d unreadable LabelAccepted payloads in %s[%d], e.g. offset %d",
                len(bad),
                topic,
                partition,
                bad[0],
            )
            await conn.execute(
                f"DELETE FROM {self.t.accepted}"
                ' WHERE topic = $1 AND partition = $2 AND "offset" = ANY($3::bigint[])',
                topic,
                partition,
                bad,
            )
        if ontologies:
            await conn.executemany(
                f"INSERT INTO {self.t.project_ontologies} VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (project_id, ontology_id, ontology_version, topic, partition)"
                " DO UPDATE SET first_offset ="
                " LEAST(project_ontologies.first_offset, EXCLUDED.first_offset)",
                [(p, o, v, topic, partition, f) for (p, o, v), f in ontologies.items()],
            )

    async def on_curation_batch(
        self, records: Sequence[BatchRecord], conn: asyncpg.Connection
    ) -> None:
        rows = []
        for r in records:
            if r.envelope.type != ITEM_REGISTERED:
                continue
            e = cev.ItemRegistered.FromString(r.envelope.payload)
            rows.append((e.item_id, e.dataset_id, e.uri, e.width, e.height))
        if rows:
            # Write-once: the first registration of an item wins (offset order).
            await conn.executemany(
                f"INSERT INTO {self.t.items} VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                rows,
            )

    async def on_ontology_batch(
        self, records: Sequence[BatchRecord], conn: asyncpg.Connection
    ) -> None:
        for r in records:
            env = r.envelope
            if env.type == VERSION_PUBLISHED:
                v = oev.OntologyVersionPublished.FromString(env.payload)
                await conn.execute(
                    f"INSERT INTO {self.t.ontology_versions} VALUES ($1, $2, $3)"
                    " ON CONFLICT DO NOTHING",
                    v.ontology_id,
                    v.version,
                    v.definition.SerializeToString(deterministic=True),
                )
            elif env.type == MIGRATION_CREATED:
                m = oev.OntologyMigrationCreated.FromString(env.payload)
                await conn.execute(
                    f"INSERT INTO {self.t.ontology_migrations} VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT DO NOTHING",
                    m.ontology_id,
                    m.from_version,
                    m.to_version,
                    env.payload,
                )

    async def reset(self, conn: asyncpg.Connection, schema: str) -> None:
        """Drop every projected row and position: the next start replays from offset 0.

        Versions already created stay (they are records of what was made, and their files
        are in the object store); the segment cache is cleared so nothing built from the old
        projection is reused.
        """
        await conn.execute(
            f"TRUNCATE {self.t.accepted}, {self.t.link_positions}, {self.t.segments},"
            f" {self.t.project_ontologies}, {self.t.items}, {self.t.ontology_versions},"
            f" {self.t.ontology_migrations},"
            f" {self.t.segment_files}"
        )
        await conn.execute(
            f'DELETE FROM "{schema}".consumer_positions WHERE consumer = ANY($1::text[])',
            [QA_CONSUMER, CURATION_CONSUMER, ONTOLOGY_CONSUMER],
        )

"""The projections of the datasets service: the log of accepted labels, item metadata, ontology
versions and migrations, written in batches (libs/bus ``BatchProjector``).

Every write is keyed by where the record is in the log or by an immutable id, so a batch that
is applied again (a redelivery, a replay after a reset) changes nothing:

- ``accepted``: one row per ``LabelAccepted`` at (topic, partition, offset); the row's
  ``superseded_offset`` is the offset of the task's next ``LabelAccepted`` (the task stream is
  the record key, so all of a task's events are in one partition, in order). A version at a cut
  takes, per task, the row below the cut whose successor (if any) is at or above it.
- ``segments`` / ``project_ontologies``: which log segments and ontology versions a project's
  labels touch, so creating a version never scans the whole history.
- ``items``: the first ``ItemRegistered`` of an item (item metadata never changes after it).
- ``ontology_versions`` / ``ontology_migrations``: published versions and migration rules.

A ``LabelRejected`` or ``LabelIssueFlagged`` does not remove a task's accepted label: it stays
in new versions until the task's next ``LabelAccepted`` supersedes it (documented choice: a
suspicion is not a verdict; the re-labeled answer replaces the old one when it is accepted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from labelops.curation.v1 import events_pb2 as cev
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import events_pb2 as qev
from labelops_bus import BatchRecord

from ..adapters.tables import Tables

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
    "item_id",
    "ontology_id",
    "ontology_version",
    "payload",
    "superseded_offset",
)


@dataclass
class QaBatch:
    """What ``apply_qa`` writes: accepted rows, per-task offset spans, segments, ontologies."""

    rows: list[tuple[object, ...]]
    spans: dict[tuple[str, str, int], list[int]]
    segments: set[tuple[str, int, int]]
    ontologies: dict[tuple[str, str, str, int], int]


_HEADS_INPUT = (
    "unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS x(p, t, pt, f, hd)"
)


class Projection:
    """Batch handlers for the three consumed topics."""

    def __init__(self, tables: Tables, *, segment_span: int) -> None:
        self.t = tables
        self.span = segment_span

    async def on_qa_batch(self, records: Sequence[BatchRecord], conn: asyncpg.Connection) -> None:
        """``apply_qa(prepare_qa(records))`` in one call."""
        await self.apply_qa(self.prepare_qa(records), conn)

    def prepare_qa(self, records: Sequence[BatchRecord]) -> QaBatch:
        """The batch's ``LabelAccepted`` rows and bookkeeping, built outside the transaction
        (``BatchProjector(prepare=...)`` overlaps it with the previous batch's writes)."""
        rows: list[list[object]] = []
        last: dict[tuple[str, str, int], list[object]] = {}
        segments: set[tuple[str, int, int]] = set()
        ontologies: dict[tuple[str, str, str, int], int] = {}
        span = self.span
        for r in records:
            env = r.envelope
            if env.type != LABEL_ACCEPTED:
                continue
            e = qev.LabelAccepted.FromString(env.payload)
            lineage = e.lineage
            project = e.project_id
            row: list[object] = [
                r.topic,
                r.partition,
                r.offset,
                r.timestamp,
                env.event_id,
                project,
                e.task_id,
                e.item_id or e.labels.item_id,
                lineage.ontology_id,
                lineage.ontology_version,
                env.payload,
                None,
            ]
            # Records of a partition arrive in offset order: a task seen earlier in this batch
            # is superseded by this row.
            key = (project, e.task_id, r.partition)
            previous = last.get(key)
            if previous is not None:
                previous[11] = r.offset
            last[key] = row
            rows.append(row)
            segments.add((project, r.partition, r.offset // span))
            okey = (project, lineage.ontology_id, lineage.ontology_version, r.partition)
            if okey not in ontologies:
                ontologies[okey] = r.offset
        # Each task's head (its latest row) moves to this batch's last row of the task; the
        # old head, if any, is superseded by the batch's first row of the task.
        spans: dict[tuple[str, str, int], list[int]] = {}
        for row in rows:
            k = (str(row[5]), str(row[6]), int(row[1]))  # type: ignore[call-overload]
            o = int(row[2])  # type: ignore[call-overload]
            if k in spans:
                spans[k][1] = o
            else:
                spans[k] = [o, o]
        return QaBatch([tuple(row) for row in rows], spans, segments, ontologies)

    async def apply_qa(self, batch: QaBatch, conn: asyncpg.Connection) -> None:
        """Append the rows (COPY) and link each task's chain.

        The projector hands over each record once (its positions are committed with these
        rows, and records below them are dropped), so the rows are copied without a conflict
        check; a replay needs ``reset`` first. The head upsert goes through the primary key
        only: no plan to go wrong while a rebuild bulk-loads tables whose statistics are stale.
        """
        rows, spans, segments, ontologies = (
            batch.rows,
            batch.spans,
            batch.segments,
            batch.ontologies,
        )
        if not rows:
            return
        topic = rows[0][0]
        await conn.copy_records_to_table(
            self.t.accepted.split(".")[1].strip('"'),
            schema_name=self.t.accepted.split(".")[0].strip('"'),
            records=rows,
            columns=list(_ACCEPTED_COLUMNS),
        )
        args = (
            [k[0] for k in spans],
            [k[1] for k in spans],
            [k[2] for k in spans],
            [v[0] for v in spans.values()],
            [v[1] for v in spans.values()],
            topic,
        )
        # Usually every task of a batch is new: one insert, nothing returned. Only when some
        # task had a head already (a re-label) is the batch's upsert run to move the heads.
        status = await conn.execute(
            f"INSERT INTO {self.t.task_heads} (project_id, task_id, topic, partition, head,"
            " first_in_batch)"
            f" SELECT p, t, $6, pt, hd, f FROM {_HEADS_INPUT} ON CONFLICT DO NOTHING",
            *args,
        )
        superseded: list[asyncpg.Record] = []
        if int(status.split()[-1]) < len(spans):
            superseded = await conn.fetch(
                f"INSERT INTO {self.t.task_heads} AS h (project_id, task_id, topic, partition,"
                " head, first_in_batch)"
                f" SELECT p, t, $6, pt, hd, f FROM {_HEADS_INPUT}"
                " ON CONFLICT (project_id, task_id, topic, partition) DO UPDATE SET"
                " previous = h.head, head = EXCLUDED.head,"
                " first_in_batch = EXCLUDED.first_in_batch"
                # Heads just inserted by the statement above have head = this batch's last row.
                " WHERE h.head < EXCLUDED.first_in_batch"
                " RETURNING partition, previous, first_in_batch",
                *args,
            )
        updates = [
            (topic, r["partition"], r["previous"], r["first_in_batch"])
            for r in superseded
            if r["previous"] is not None
        ]
        if updates:
            await conn.executemany(
                f"UPDATE {self.t.accepted} SET superseded_offset = $4"
                ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
                updates,
            )
        await conn.execute(
            f"INSERT INTO {self.t.segments}"
            " SELECT p, $4, pt, s FROM unnest($1::text[], $2::int[], $3::bigint[]) AS x(p, pt, s)"
            " ON CONFLICT DO NOTHING",
            [s[0] for s in segments],
            [s[1] for s in segments],
            [s[2] for s in segments],
            topic,
        )
        await conn.execute(
            f"INSERT INTO {self.t.project_ontologies}"
            " SELECT p, o, v, $6, pt, f FROM unnest($1::text[], $2::text[], $3::text[],"
            " $4::int[], $5::bigint[]) AS x(p, o, v, pt, f)"
            " ON CONFLICT (project_id, ontology_id, ontology_version, topic, partition)"
            " DO UPDATE SET first_offset ="
            " LEAST(project_ontologies.first_offset, EXCLUDED.first_offset)",
            [k[0] for k in ontologies],
            [k[1] for k in ontologies],
            [k[2] for k in ontologies],
            [k[3] for k in ontologies],
            list(ontologies.values()),
            topic,
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
            f"TRUNCATE {self.t.accepted}, {self.t.task_heads}, {self.t.segments},"
            f" {self.t.project_ontologies}, {self.t.items}, {self.t.ontology_versions},"
            f" {self.t.ontology_migrations},"
            f" {self.t.segment_files}"
        )
        await conn.execute(
            f'DELETE FROM "{schema}".consumer_positions WHERE consumer = ANY($1::text[])',
            [QA_CONSUMER, CURATION_CONSUMER, ONTOLOGY_CONSUMER],
        )

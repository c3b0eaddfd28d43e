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
)


class Projection:
    """Batch handlers for the three consumed topics."""

    def __init__(self, tables: Tables, *, segment_span: int) -> None:
        self.t = tables
        self.span = segment_span

    async def on_qa_batch(self, records: Sequence[BatchRecord], conn: asyncpg.Connection) -> None:
        rows = []
        for r in records:
            env = r.envelope
            if env.type != LABEL_ACCEPTED:
                continue
            e = qev.LabelAccepted.FromString(env.payload)
            rows.append(
                (
                    r.topic,
                    r.partition,
                    r.offset,
                    r.timestamp,
                    env.event_id,
                    e.project_id,
                    e.task_id,
                    e.item_id or e.labels.item_id,
                    e.lineage.ontology_id,
                    e.lineage.ontology_version,
                    env.payload,
                )
            )
        if not rows:
            return
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_accepted"
            f" (LIKE {self.t.accepted} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table(
            "incoming_accepted", records=rows, columns=list(_ACCEPTED_COLUMNS)
        )
        cols = ", ".join(f'"{c}"' for c in _ACCEPTED_COLUMNS)
        await conn.execute(
            f"INSERT INTO {self.t.accepted} ({cols}) SELECT {cols} FROM incoming_accepted"
            ' ON CONFLICT (topic, partition, "offset") DO NOTHING'
        )
        # A task's accepted rows form a chain ordered by offset; each row points at its
        # successor. Only the tasks of this batch can have changed.
        await conn.execute(
            f"""
            WITH keys AS (
                SELECT DISTINCT project_id, task_id, topic, partition FROM incoming_accepted
            ), chain AS (
                SELECT a.topic, a.partition, a."offset", a.superseded_offset,
                       lead(a."offset") OVER (
                           PARTITION BY a.project_id, a.task_id, a.topic, a.partition
                           ORDER BY a."offset") AS nxt
                FROM {self.t.accepted} a
                JOIN keys k USING (project_id, task_id, topic, partition)
            )
            UPDATE {self.t.accepted} a SET superseded_offset = c.nxt
            FROM chain c
            WHERE a.topic = c.topic AND a.partition = c.partition AND a."offset" = c."offset"
              AND c.nxt IS NOT NULL AND a.superseded_offset IS DISTINCT FROM c.nxt
            """
        )
        await conn.execute(
            f"INSERT INTO {self.t.segments}"
            f' SELECT DISTINCT project_id, topic, partition, "offset" / {int(self.span)}'
            " FROM incoming_accepted ON CONFLICT DO NOTHING"
        )
        await conn.execute(
            f"INSERT INTO {self.t.project_ontologies}"
            ' SELECT project_id, ontology_id, ontology_version, topic, partition, min("offset")'
            " FROM incoming_accepted"
            " GROUP BY project_id, ontology_id, ontology_version, topic, partition"
            " ON CONFLICT (project_id, ontology_id, ontology_version, topic, partition)"
            " DO UPDATE SET first_offset ="
            " LEAST(project_ontologies.first_offset, EXCLUDED.first_offset)"
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
            f"TRUNCATE {self.t.accepted}, {self.t.segments}, {self.t.project_ontologies},"
            f" {self.t.items}, {self.t.ontology_versions}, {self.t.ontology_migrations},"
            f" {self.t.segment_files}"
        )
        await conn.execute(
            f'DELETE FROM "{schema}".consumer_positions WHERE consumer = ANY($1::text[])',
            [QA_CONSUMER, CURATION_CONSUMER, ONTOLOGY_CONSUMER],
        )

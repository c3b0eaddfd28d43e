"""The projections of the datasets service: the log of accepted labels, item metadata, ontology
versions and migrations, written in batches (libs/bus ``BatchProjector``, run by the scaffold
from ``entrypoints/consumers.py``).

- ``accepted``: one row per ``LabelAccepted`` at (topic, partition, offset), with its Kafka
  timestamp, event id, project and task (from the record's stream id), the payload and the
  envelope's tenant (carried in the COPY row: no round trip per record). The hot
  path parses nothing but the envelope and only appends (COPY): a rebuild replays as fast as
  Postgres appends. Each record is applied once (the projector's positions are committed with
  the rows, and records below them are dropped).
- ``link`` (run before a version is made) then derives what follows from the log in order
  (``domain.linking``): superseded rows, the ontology versions of a project's labels, payloads
  that are not a label. It parses each new row once in its life (and drops the message: the
  build parses what it builds itself, which measured cheaper than keeping parsed messages).
- ``segments``: which log segments hold a project's labels, so a version never scans the history.
- ``items``: the first ``ItemRegistered`` of an item (item metadata never changes after it).
  Items, ontology versions and migrations are each of their envelope's tenant.
- ``ontology_versions`` / ``ontology_migrations``: published versions and migration rules.

A ``LabelRejected`` or ``LabelIssueFlagged`` does not remove a task's accepted label: it stays
in new versions until the task's next ``LabelAccepted`` supersedes it (documented choice: a
suspicion is not a verdict; the re-labeled answer replaces the old one when it is accepted).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from labelops.curation.v1 import events_pb2 as cev
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import events_pb2 as qev
from labelops_bus import BatchRecord, read_positions
from labelops_core.context import DEFAULT_TENANT

from ..adapters.accepted import AcceptedLog, AcceptedRow
from ..adapters.catalog import Catalog
from ..domain.linking import PartitionLink, parse_accepted

log = logging.getLogger(__name__)

#: The projections' names (consumer_positions.consumer).
QA_CONSUMER = "accepted-labels"
CURATION_CONSUMER = "items"
ONTOLOGY_CONSUMER = "ontologies"

#: Rows read per round trip while linking.
_LINK_CHUNK = 20_000
#: Analyze ``accepted`` before linking when this share of it is new (planner statistics).
_ANALYZE_SHARE = 0.2


@dataclass
class QaBatch:
    """What ``append_accepted`` writes: accepted rows and the segments they fall in."""

    rows: list[AcceptedRow]
    #: (tenant, project, partition, segment)
    segments: set[tuple[str, str, int, int]]


@dataclass
class Linked:
    """What ``link`` returns: the linked end offset per partition."""

    positions: dict[int, int]


def task_of(stream_id: str) -> tuple[str, str] | None:
    """(project, task) of a task stream id ``projects/{p}/tasks/{t}``, else None."""
    parts = stream_id.split("/")
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == "tasks":
        return parts[1], parts[3]
    return None


class Projection:
    """Batch handlers for the three consumed topics, and ``link``."""

    def __init__(
        self, accepted: AcceptedLog, catalog: Catalog, *, segment_span: int, qa_topic: str
    ) -> None:
        self.accepted = accepted
        self.catalog = catalog
        self.span = segment_span
        self.qa_topic = qa_topic
        self.schema = accepted.schema

    # ------------------------------------------------------------------- accepted labels

    def prepare_accepted(self, items: Sequence[tuple[Any, BatchRecord]]) -> QaBatch:
        """The ``LabelAccepted`` rows of (envelope, record) pairs, built outside the
        transaction (the projector overlaps it with the previous batch's writes)."""
        rows: list[AcceptedRow] = []
        segments: set[tuple[str, str, int, int]] = set()
        append, note, span = rows.append, segments.add, self.span
        for env, r in items:
            tenant = env.tenant_id or DEFAULT_TENANT
            # task_of, inlined: this loop runs once per projected record.
            parts = env.stream_id.split("/")
            if len(parts) == 4 and parts[0] == "projects" and parts[2] == "tasks":
                project, task = parts[1], parts[3]
            else:  # not on a task stream: read the ids from the event itself
                e = qev.LabelAccepted.FromString(env.payload)
                project, task = e.project_id, e.task_id
            partition, offset = r.partition, r.offset
            payload = env.payload
            append(
                (
                    r.topic,
                    partition,
                    offset,
                    r.timestamp,
                    env.event_id,
                    project,
                    task,
                    payload,
                    tenant,
                )
            )
            note((tenant, project, partition, offset // span))
        return QaBatch(rows, segments)

    async def append_accepted(self, batch: QaBatch, conn: asyncpg.Connection) -> None:
        """Append the rows (each record is handed over once; a replay needs ``reset``
        first) and note their segments."""
        if batch.rows:
            await self.accepted.append(conn, batch.rows, batch.segments)

    # ------------------------------------------------------------- items and ontologies

    async def items_registered(
        self, events: Sequence[tuple[cev.ItemRegistered, str]], conn: asyncpg.Connection
    ) -> None:
        """(event, its envelope's tenant) pairs."""
        rows = [(e.item_id, e.dataset_id, e.uri, e.width, e.height, t) for e, t in events]
        if rows:
            await self.catalog.add_items(conn, rows)

    async def versions_published(
        self, events: Sequence[tuple[oev.OntologyVersionPublished, str]], conn: asyncpg.Connection
    ) -> None:
        """(event, its envelope's tenant) pairs."""
        for v, tenant in events:
            await self.catalog.add_ontology_version(
                conn,
                tenant,
                v.ontology_id,
                v.version,
                v.definition.SerializeToString(deterministic=True),
            )

    async def migrations_created(
        self,
        events: Sequence[tuple[oev.OntologyMigrationCreated, bytes, str]],
        conn: asyncpg.Connection,
    ) -> None:
        """(event, its payload as published, its envelope's tenant): the payload is what is
        stored."""
        for m, payload, tenant in events:
            await self.catalog.add_migration(
                conn, tenant, m.ontology_id, m.from_version, m.to_version, payload
            )

    # -------------------------------------------------------------------------------- link

    async def link(self, pool: asyncpg.Pool) -> Linked:
        """Link the rows appended since the last link (see the module docstring); returns the
        linked end offset per partition. One linker at a time (advisory lock); idempotent."""
        topic = self.qa_topic
        async with pool.acquire() as conn, conn.transaction():
            await self.accepted.lock_link(conn)
            positions = await read_positions(conn, self.schema, QA_CONSUMER, topic)
            linked = await self.accepted.linked(conn, topic)
            todo = {p: (linked.get(p, 0), end) for p, end in positions.items()}
            todo = {p: se for p, se in todo.items() if se[0] < se[1]}
            out = Linked(linked)
            if not todo:
                return out
            starts = {p: se[0] for p, se in todo.items()}
            await self.accepted.analyze_if_grown(conn, topic, starts, _ANALYZE_SHARE)
            for p, (start, end) in sorted(todo.items()):
                await self._link_partition(conn, p, start, end)
                linked[p] = end
            await self.accepted.set_linked(conn, topic, {p: linked[p] for p in todo})
            return out

    async def _link_partition(
        self, conn: asyncpg.Connection, partition: int, start: int, end: int
    ) -> None:
        topic = self.qa_topic
        link = PartitionLink(start)
        lo = start
        while lo < end:
            rows = await self.accepted.chunk(conn, topic, partition, lo, end, _LINK_CHUNK)
            if not rows:
                break
            add = link.add
            for r in rows:
                add(
                    r["offset"],
                    (r["tenant_id"], r["project_id"], r["task_id"]),
                    parse_accepted(r["payload"]),
                )
            lo = rows[-1]["offset"] + 1
        earlier = link.earlier_tasks()
        if earlier:
            link.before(await self.accepted.latest_before(conn, topic, partition, start, earlier))
        await self._write_link(conn, partition, link)

    async def _write_link(
        self, conn: asyncpg.Connection, partition: int, link: PartitionLink
    ) -> None:
        topic = self.qa_topic
        if link.superseded:
            await self.accepted.set_superseded(conn, topic, partition, link.superseded)
        if link.bad:
            # Not a label: left out of every version (logged; deterministic on any replay).
            log.error(
                "accepted-labels: %d unreadable LabelAccepted payloads in %s[%d], e.g. offset %d",
                len(link.bad),
                topic,
                partition,
                link.bad[0],
            )
            await self.accepted.delete(conn, topic, partition, link.bad)
        if link.ontologies:
            await self.catalog.note_ontologies(conn, topic, partition, link.ontologies)

    # ---------------------------------------------------------------------- maintenance

    async def reset(self, conn: asyncpg.Connection, schema: str = "") -> None:
        """Drop every projected row and position: the next start replays from offset 0.

        Versions already created stay (they are records of what was made, and their files
        are in the object store); the segment cache is cleared so nothing built from the old
        projection is reused. (``schema``: the service's, the one it was built with.)
        """
        await self.accepted.truncate(conn, *self.catalog.tables(), self.accepted.t.segment_files)
        await self.accepted.drop_positions(
            conn, [QA_CONSUMER, CURATION_CONSUMER, ONTOLOGY_CONSUMER]
        )

    async def caught_up(self, pool: asyncpg.Pool, ends: Mapping[int, int]) -> bool:
        """Whether the accepted-labels projection has consumed up to ``ends`` (partition →
        end offset) of the qa topic."""
        positions = await read_positions(pool, self.schema, QA_CONSUMER, self.qa_topic)
        return all(positions.get(p, 0) >= o for p, o in ends.items())

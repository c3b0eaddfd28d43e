"""The labeling workflow end to end, against running services, stage by stage.

``Demo(targets, keys, scale, ...).run()`` drives the six services only through their public
gRPC APIs (and reads two things the way internal tools do: the services' event logs through
``EventLogService``, and QA's Kafka topic for the cut of a dataset version). It returns the
summary: every number the report shows, taken from the services' answers and event logs; the
simulated people's truth is used only to grade them.

Stages:
  1. ontology: classes digit-0..digit-9 (whole-item classification), published as 1.0.0.
  2. curation: import with exact and near copies injected, checksum duplicates excluded at
     registration, FindDuplicates in the pixel space, CurateItems excludes the near copies and
     includes the rest.
  3. routing: an in-house pool and two vendor pools, routing rules, per-class overlap, gold
     tasks; tasks for the included items in two waves (CreateTasks).
  4. prelabel: a built-in logistic model on the pixel vectors retrains every N accepted labels;
     the project offers its pre-labels; an active-learning round between labeling rounds.
  5. qa: consensus as labels complete, a reviewer bot on the review queue, gold scoring and
     drift, agreement, label issues from out-of-sample probabilities.
  6. datasets: a version after the first wave, another at the end, their diff, and the MLOps
     fetch of the latest with ``labelops_client``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as cpb
from labelops.curation.v1 import curation_pb2_grpc
from labelops.datasets.v1 import datasets_pb2 as dpb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops.prelabel.v1 import events_pb2 as pev
from labelops.prelabel.v1 import prelabel_pb2 as ppb
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops.qa.v1 import events_pb2 as qev
from labelops.qa.v1 import qa_pb2 as qpb
from labelops.qa.v1 import qa_pb2_grpc
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_grpckit import channel, error_info

from .annotators import (
    IN_HOUSE,
    VENDOR_A,
    VENDOR_B,
    InHouseTeam,
    ReviewerBot,
    RoundResult,
    SimAnnotator,
    VendorWorkforce,
    Work,
    WorkStream,
    whole_item,
)
from .data import CLASSES, DemoData, Scale, load

TEAMS = ("in-house", "vendor-a", "vendor-b")
#: Classes whose digits people confuse most: every task with one of these as its class hint
#: is labeled twice, and the routing rules keep them away from the cheapest vendor.
CONFUSABLE = ("digit-3", "digit-8", "digit-9")
OUTCOMES = {
    wpb.PRELABEL_OUTCOME_NONE: "none",
    wpb.PRELABEL_OUTCOME_ACCEPTED: "accepted",
    wpb.PRELABEL_OUTCOME_EDITED: "edited",
    wpb.PRELABEL_OUTCOME_REPLACED: "replaced",
}

Say = Callable[[str], None]


# --- credentials ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """API keys by role. ``vendors``: (vendor id, key) of vendor A, then vendor B."""

    admin: str
    reviewer: str
    annotator: str
    vendors: tuple[tuple[str, str], tuple[str, str]]
    #: LABELOPS_API_KEYS-style fields of every key (in-process systems authenticate with it).
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def generated_keys(tenant: str = "demo") -> Keys:
    """Fresh keys for an in-process system: a lead (admin), a reviewer, the in-house labeling
    tool (a plain user) and one key per vendor (kind ``vendor``)."""
    k = {name: f"demo-{name}-{secrets.token_hex(12)}" for name in ("admin", "rev", "ann", "a", "b")}
    fields: dict[str, dict[str, Any]] = {
        k["admin"]: {"subject": "demo-lead", "tenant_id": tenant, "roles": ["admin"]},
        k["rev"]: {"subject": "rita-reviewer", "tenant_id": tenant, "roles": ["reviewer"]},
        # The internal labeling tool claims and submits for each of its team's annotators;
        # routing lets only an admin act as another annotator (an annotator key acts only as
        # itself). In production each annotator signs in with a key of its own.
        k["ann"]: {"subject": "in-house-tool", "tenant_id": tenant, "roles": ["admin"]},
        k["a"]: {
            "subject": "vendor-a-bot",
            "tenant_id": tenant,
            "kind": "vendor",
            "vendor_id": "vendor-a",
        },
        k["b"]: {
            "subject": "vendor-b-bot",
            "tenant_id": tenant,
            "kind": "vendor",
            "vendor_id": "vendor-b",
        },
    }
    return Keys(
        k["admin"], k["rev"], k["ann"], (("vendor-a", k["a"]), ("vendor-b", k["b"])), fields
    )


def keys_from_mapping(entries: Mapping[str, Mapping[str, Any]]) -> Keys:
    """Pick keys by role from a LABELOPS_API_KEYS-style mapping ``{key: {subject, tenant_id,
    roles, kind, vendor_id}}`` (what ``labelops up`` writes to .local/run/api-keys.json)."""

    def roles(f: Mapping[str, Any]) -> set[str]:
        r = f.get("roles", [])
        return set(r.split() if isinstance(r, str) else r)

    people = {k: f for k, f in entries.items() if f.get("kind", "user") in ("user", "service")}
    admins = [k for k, f in people.items() if roles(f) & {"admin", "manager"}]
    if not admins:
        raise ValueError("no key with the admin or manager role (needed to set the workflow up)")
    admin = admins[0]
    reviewer = next((k for k, f in people.items() if "reviewer" in roles(f)), admin)
    # The in-house labeling tool acts for its team's annotators: only an admin user may
    # (routing refuses an annotator key acting as anyone else), so the admin key stands in.
    annotator = next(
        (k for k, f in people.items() if "admin" in roles(f) and f.get("kind", "user") == "user"),
        admin,
    )
    vendors = sorted(
        (str(f["vendor_id"]), k)
        for k, f in entries.items()
        if f.get("kind") == "vendor" and f.get("vendor_id")
    )
    warnings = []
    # A vendor key per vendor pool is the point of the demo; without them the admin key
    # (managers may work any pool) stands in, and the report says so.
    while len(vendors) < 2:
        vid = ("vendor-a", "vendor-b")[len(vendors)]
        warnings.append(f"no vendor key for a second vendor: {vid} works with the admin key")
        vendors.append((vid, admin))
    return Keys(admin, reviewer, annotator, (vendors[0], vendors[1]), entries, tuple(warnings))


def keys_from_file(path: Path) -> Keys:
    data = json.loads(path.read_text())
    if isinstance(data, list):  # [{"key": ..., fields...}] is accepted too
        data = {d["key"]: {k: v for k, v in d.items() if k != "key"} for d in data}
    return keys_from_mapping(data)


def keys_from_env(env: Mapping[str, str] = os.environ) -> Keys | None:
    """One key for every role (LABELOPS_API_KEY); vendor pools are then worked with it."""
    key = env.get("LABELOPS_API_KEY")
    if not key:
        return None
    return Keys(
        key,
        key,
        key,
        (("vendor-a", key), ("vendor-b", key)),
        warnings=("LABELOPS_API_KEY only: vendors work their pools with that key, not their own",),
    )


# --- reading event logs -----------------------------------------------------------------------


class EventTail:
    """Follows one event type in a service's event store through ``EventLogService``.

    Pages are read from the last full page's token (a short last page gives none), so each
    poll reads only what is new plus one partial page; events are kept once by event id and
    only when their payload's ``project_id`` is the demo's project.
    """

    def __init__(self, stub: Any, message: type[Message], project_id: str) -> None:
        self.stub = stub
        self.message = message
        self.project_id = project_id
        self._token = ""
        self._seen: set[str] = set()
        self.events: list[tuple[envelope_pb2.EventEnvelope, Any]] = []

    async def poll(self) -> list[Any]:
        """New events since the last poll (payloads, decoded)."""
        new: list[Any] = []
        while True:
            resp = await self.stub.ListEvents(
                eventlog_pb2.ListEventsRequest(
                    page_size=1000, page_token=self._token, type=self.message.DESCRIPTOR.full_name
                )
            )
            for env in resp.events:
                if env.event_id in self._seen:
                    continue
                self._seen.add(env.event_id)
                msg = self.message.FromString(env.payload)
                if getattr(msg, "project_id", None) == self.project_id:
                    self.events.append((env, msg))
                    new.append(msg)
            if not resp.next_page_token:
                return new
            self._token = resp.next_page_token

    @property
    def payloads(self) -> list[Any]:
        return [m for _, m in self.events]


class KafkaTail:
    """Reads QA's Kafka topic as any internal tool could (no consumer group, nothing
    committed): counts one project's ``LabelAccepted`` records, whose end offsets — once every
    accepted label in QA's store is among the records read — are an exact cut for a dataset
    version; and, at the end, the project's records on QA's dead-letter topic."""

    def __init__(
        self, bootstrap: str, topic: str, dlq_topics: Sequence[str], project_id: str
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.dlq_topics = list(dlq_topics)
        self.prefix = f"projects/{project_id}/"
        self.accepted = 0
        self._consumer: Any = None
        self._start: dict[str, dict[int, int]] = {}
        self._assigned = False

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False
        )
        await self._consumer.start()
        # A topic that exists already may hold other runs' records: start at its end now.
        # One created later (a fresh in-process system) is read from its beginning.
        for topic in (self.topic, *self.dlq_topics):
            tps = await self._partitions(topic)
            if tps:
                ends = await self._consumer.end_offsets(tps)
                self._start[topic] = {tp.partition: o for tp, o in ends.items()}

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def _partitions(self, topic: str) -> list[Any]:
        from aiokafka import TopicPartition

        # A topic created after the consumer started is not in its cached metadata
        # (``topics()`` does not refresh that cache); labelops_testkit.kafka does the same.
        await self._consumer._client.force_metadata_update()
        parts = self._consumer.partitions_for_topic(topic) or set()
        return [TopicPartition(topic, p) for p in sorted(parts)]

    async def _read(self, tps: list[Any]) -> tuple[list[Any], dict[int, int]]:
        end = await self._consumer.end_offsets(tps)
        got: list[Any] = []
        while True:
            behind = [tp for tp in tps if await self._consumer.position(tp) < end[tp]]
            if not behind:
                return got, {tp.partition: end[tp] for tp in tps}
            batch = await self._consumer.getmany(*behind, timeout_ms=500)
            for records in batch.values():
                got.extend(records)

    async def catch_up(self) -> dict[int, int]:
        """Read QA's topic to its current end; returns the end offsets read to."""
        tps = await self._partitions(self.topic)
        if not tps:
            return {}
        if not self._assigned:
            self._consumer.assign(tps)
            for tp in tps:
                self._consumer.seek(tp, self._start.get(self.topic, {}).get(tp.partition, 0))
            self._assigned = True
        records, end = await self._read(tps)
        for r in records:
            env = envelope_pb2.EventEnvelope.FromString(r.value)
            if env.type == qev.LabelAccepted.DESCRIPTOR.full_name and (
                env.stream_id.startswith(self.prefix)
            ):
                self.accepted += 1
        return end

    async def cut_with(self, accepted: int, timeout: float = 60.0) -> dict[int, int]:
        """End offsets that include at least ``accepted`` of the project's accepted labels."""
        deadline = time.monotonic() + timeout
        while True:
            end = await self.catch_up()
            if self.accepted >= accepted:
                return end
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.accepted} of {accepted} accepted labels on {self.topic}"
                    f" after {timeout:.0f}s"
                )
            await asyncio.sleep(0.3)

    async def dead_letters(self) -> list[dict[str, str]]:
        """The project's records the services' consumers dead-lettered during the run."""
        from aiokafka import AIOKafkaConsumer

        # A consumer of its own: this one's metadata now covers only QA's topic.
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        main, self._consumer = self._consumer, consumer
        try:
            tps = [tp for t in self.dlq_topics for tp in await self._partitions(t)]
            if not tps:
                return []
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, self._start.get(tp.topic, {}).get(tp.partition, 0))
            records, _ = await self._read(tps)
        finally:
            self._consumer = main
            await consumer.stop()
        out = []
        for r in records:
            if not (r.key or b"").decode(errors="replace").startswith(self.prefix):
                continue
            headers = {k: v.decode(errors="replace") for k, v in r.headers or ()}
            out.append(
                {
                    "type": headers.get("type", ""),
                    "reason": headers.get("dlq.reason", ""),
                    "error": headers.get("dlq.error", "")[:300],
                    "consumer": headers.get("dlq.consumer", ""),
                    "topic": r.topic,
                    "stream": (r.key or b"").decode(errors="replace"),
                }
            )
        return out


async def until(
    check: Callable[[], Awaitable[Any]], timeout: float, interval: float = 0.3, what: str = ""
) -> Any:
    """Poll ``check`` until it returns something truthy (TimeoutError after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout:.0f}s: {what}")
        await asyncio.sleep(interval)


async def retry_aborted(call: Callable[[], Awaitable[Any]], attempts: int = 5) -> Any:
    """``call()``, again on ABORTED (a concurrency conflict the service reports instead of
    retrying: AIP-193 says the client may retry the whole request)."""
    for attempt in range(attempts):
        try:
            return await call()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ABORTED or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _reason(exc: grpc.RpcError) -> str:
    info = error_info(exc)
    return info.reason if info is not None else ""


def _rid() -> str:
    return str(uuid.uuid4())


def _mean(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return statistics.fmean(xs) if xs else None


def _primary(labels: L.ItemLabels) -> str:
    return next((lb.class_id for lb in labels.labels if lb.class_id), "")


# --- the workflow -----------------------------------------------------------------------------


@dataclass
class Pools:
    ids: dict[str, str]  # team → pool id
    teams: dict[str, str]  # pool id → team


class Demo:
    """One run of the workflow against ``targets`` (service name → host:port)."""

    def __init__(
        self,
        targets: Mapping[str, str],
        keys: Keys,
        scale: Scale,
        *,
        kafka_bootstrap: str,
        topics: Mapping[str, str],
        run_id: str | None = None,
        say: Say = print,
        seed: int = 7,
    ) -> None:
        self.targets = dict(targets)
        self.keys = keys
        self.scale = scale
        self.kafka_bootstrap = kafka_bootstrap
        #: Events topic per service; a consumer's dead letters go to ``<...>.dlq.v1``.
        self.topics = dict(topics)
        self.qa_topic = self.topics["qa"]
        self.run_id = run_id or secrets.token_hex(3)
        self.say = say
        self.seed = seed
        self.data: DemoData = load(scale, seed)
        self.uris = {d.external_id: d.uri for d in self.data.items}
        self.ontology_id = f"digits-{self.run_id}"
        self.dataset_id = f"digits-{self.run_id}"
        self.project_id = f"digits-{self.run_id}"
        self.versions_id = f"digits-{self.run_id}-train"
        self.summary: dict[str, Any] = {}
        self.stage_seconds: dict[str, float] = {}
        self.ledger: list[Work] = []
        self.rounds: list[dict[str, Any]] = []
        self.truth: dict[str, str] = {}  # item id → class
        self.external: dict[str, str] = {}  # item id → external id
        self.waves: list[list[str]] = []
        self.model_curve: list[dict[str, Any]] = []
        self.issue_tasks: set[str] = set()
        #: Flagged tasks whose re-label QA did not accept (see ``settle``).
        self.stuck: set[str] = set()
        self._pending_since: dict[str, float] = {}
        #: ABORTED answers retried (concurrency conflicts the service left to its callers).
        self.aborted_retries = 0

    # --- plumbing ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:

            async def ch(service: str, key: str) -> grpc.aio.Channel:
                c = channel(self.targets[service], api_key=key, default_timeout=120.0)
                return await stack.enter_async_context(c)

            admin = self.keys.admin
            self.ontology = ontology_pb2_grpc.OntologyServiceStub(await ch("ontology", admin))
            self.curation = curation_pb2_grpc.CurationServiceStub(await ch("curation", admin))
            routing = await ch("routing", admin)
            self.routing = routing_pb2_grpc.RoutingServiceStub(routing)
            self.prelabel = prelabel_pb2_grpc.PrelabelServiceStub(await ch("prelabel", admin))
            # The lead runs consensus and label-issue detection (quality.run); the reviewer
            # reviews (review.write), see ``ReviewerBot``.
            self.qa = qa_pb2_grpc.QualityServiceStub(await ch("qa", admin))
            self.qa_review = qa_pb2_grpc.QualityServiceStub(await ch("qa", self.keys.reviewer))
            self.datasets = datasets_pb2_grpc.DatasetServiceStub(await ch("datasets", admin))
            self.in_house_work = workforce_pb2_grpc.WorkforceServiceStub(
                await ch("routing", self.keys.annotator)
            )
            self.vendor_work = [
                workforce_pb2_grpc.WorkforceServiceStub(await ch("routing", key))
                for _, key in self.keys.vendors
            ]
            self.routing_log = eventlog_pb2_grpc.EventLogServiceStub(routing)
            self.qa_log = eventlog_pb2_grpc.EventLogServiceStub(await ch("qa", admin))
            self.prelabel_log = eventlog_pb2_grpc.EventLogServiceStub(await ch("prelabel", admin))
            yield

    @contextlib.contextmanager
    def _stage(self, name: str) -> Any:
        self.say(f"[bold cyan]▶ {name}[/]")
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.stage_seconds[name] = round(
                self.stage_seconds.get(name, 0.0) + time.monotonic() - t0, 2
            )

    # --- run -----------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        self.summary["run"] = {
            "run_id": self.run_id,
            "scale": self.scale.name,
            "targets": self.targets,
            "warnings": list(self.keys.warnings),
        }
        async with self._connect():
            self.labels_tail = EventTail(self.routing_log, rev.LabelSubmitted, self.project_id)
            self.reroute_tail = EventTail(self.routing_log, rev.TaskRerouted, self.project_id)
            self.accepted_tail = EventTail(self.qa_log, qev.LabelAccepted, self.project_id)
            self.gold_tail = EventTail(self.qa_log, qev.GoldScored, self.project_id)
            self.drift_tail = EventTail(self.qa_log, qev.AnnotatorDriftDetected, self.project_id)
            self.trained_tail = EventTail(self.prelabel_log, pev.ModelTrained, self.project_id)
            self.kafka = KafkaTail(
                self.kafka_bootstrap,
                self.qa_topic,
                [t.removesuffix(".events.v1") + ".dlq.v1" for t in self.topics.values()],
                self.project_id,
            )
            self.reviewer = ReviewerBot(self.qa_review, self.truth)
            await self.kafka.start()
            try:
                with self._stage("ontology"):
                    await self.stage_ontology()
                with self._stage("curation"):
                    await self.stage_curation()
                with self._stage("routing setup"):
                    await self.stage_routing_setup()
                with self._stage("prelabel setup"):
                    await self.stage_prelabel_setup()
                with self._stage("labeling, wave 1"):
                    await self.create_tasks(self.waves[0], with_model=False)
                    await self.labeling_phase(1)
                with self._stage("dataset version 1"):
                    v1 = await self.dataset_version("after the first wave")
                with self._stage("label issues"):
                    await self.stage_label_issues()
                with self._stage("labeling, wave 2"):
                    for a in self.people:
                        if a.team == "vendor-b":
                            a.drifting = True
                    await self.await_model()
                    await self.create_tasks(self.waves[1], with_model=True)
                    await self.labeling_phase(2)
                with self._stage("dataset version 2"):
                    v2 = await self.dataset_version("after the second wave and the re-labels")
                with self._stage("qa analytics"):
                    await self.stage_qa()
                with self._stage("datasets diff + MLOps fetch"):
                    await self.stage_datasets(v1, v2)
                with self._stage("report numbers"):
                    await self.collect()
            finally:
                await self.kafka.stop()
        self.summary["run"]["stage_seconds"] = self.stage_seconds
        self.summary["run"]["aborted_retries"] = self.aborted_retries
        self.summary["run"]["wall_seconds"] = round(time.monotonic() - t0, 1)
        return self.summary

    # --- 1. ontology ---------------------------------------------------------------------------

    async def stage_ontology(self) -> None:
        d = D.OntologyDefinition()
        for i, c in enumerate(CLASSES):
            d.classes.add(
                id=c,
                name=f"digit {i}",
                geometry=D.GEOMETRY_KIND_CLASSIFICATION,
                description=f"a handwritten {i}",
            )
        created = await self.ontology.CreateOntology(
            opb.CreateOntologyRequest(
                ontology_id=self.ontology_id,
                display_name="Handwritten digits",
                description="Whole-image classification of 8x8 handwritten digits",
                definition=d,
                request_id=_rid(),
            )
        )
        published = await self.ontology.PublishOntologyVersion(
            opb.PublishOntologyVersionRequest(
                ontology_id=self.ontology_id,
                expected_revision=created.ontology.draft_revision,
                version="1.0.0",
                notes="first version: ten digit classes",
                request_id=_rid(),
            )
        )
        self.summary["ontology"] = {
            "ontology_id": self.ontology_id,
            "version": published.version.version,
            "classes": list(CLASSES),
            "fingerprint": published.version.fingerprint,
        }
        self.say(f"  ontology {self.ontology_id} {published.version.version}: 10 classes")

    # --- 2. curation ---------------------------------------------------------------------------

    async def stage_curation(self) -> None:
        await self.curation.CreateDataset(
            cpb.CreateDatasetRequest(
                dataset_id=self.dataset_id,
                display_name="scikit-learn digits",
                description="8x8 handwritten digits with injected copies",
                embedders=["image-phash"],
                custom_vector_dim=64,
                auto_include=False,
                near_duplicate_threshold=0.99,
                request_id=_rid(),
            )
        )
        items = list(self.data.items)
        import_id = f"import-{self.run_id}"

        async def messages() -> AsyncIterator[cpb.RegisterItemsRequest]:
            for k in range(0, len(items), 250):
                yield cpb.RegisterItemsRequest(
                    dataset_id=self.dataset_id,
                    import_id=import_id,
                    items=[
                        cpb.ItemSpec(
                            external_id=d.external_id,
                            uri=d.uri,
                            modality=cpb.MODALITY_IMAGE,
                            embedding=d.vector,
                            metadata={"source": "sklearn-digits"},
                        )
                        for d in items[k : k + 250]
                    ],
                )

        # The response field is named `import`, a Python keyword.
        imported = getattr(await self.curation.RegisterItems(messages()), "import")
        all_items = await self._list_items()
        self.external = {it.item_id: it.external_id for it in all_items}
        truth = self.data.truth
        # Updated in place: the reviewer bot holds this mapping.
        self.truth.update({it.item_id: truth[it.external_id] for it in all_items})
        self.truth.update({g.external_id: g.truth for g in self.data.gold})

        dups = await self.curation.FindDuplicates(
            cpb.FindDuplicatesRequest(
                dataset_id=self.dataset_id,
                vector_space="custom",
                threshold=0.99,
                max_groups=1000,
                request_id=_rid(),
            )
        )
        near = sorted({i for g in dups.groups for i in g.item_ids if i != g.representative_item_id})
        injected_pairs = {
            (d.external_id, d.copy_of) for d in self.data.items if d.kind == "near-copy"
        }
        found_injected = sum(
            1
            for g in dups.groups
            if any(
                (self.external[a], self.external[b]) in injected_pairs
                for a in g.item_ids
                for b in g.item_ids
            )
        )
        excluded = 0
        if near:
            r = await self.curation.CurateItems(
                cpb.CurateItemsRequest(
                    dataset_id=self.dataset_id,
                    decision=cpb.DECISION_EXCLUDE,
                    item_ids=near,
                    reason=cpb.CURATION_REASON_NEAR_DUPLICATE,
                    note=f"FindDuplicates run {dups.run_id} (cosine >= 0.99 in pixel space)",
                    request_id=_rid(),
                )
            )
            excluded = int(r.changed)
        pending = [it.item_id for it in await self._list_items([cpb.CURATION_STATE_PENDING])]
        included = await self.curation.CurateItems(
            cpb.CurateItemsRequest(
                dataset_id=self.dataset_id,
                decision=cpb.DECISION_INCLUDE,
                item_ids=pending,
                reason=cpb.CURATION_REASON_REPRESENTATIVE,
                note="curated: no duplicate left",
                request_id=_rid(),
            )
        )
        ds = (
            await self.curation.GetDataset(cpb.GetDatasetRequest(dataset_id=self.dataset_id))
        ).dataset
        final = {it.external_id: it for it in await self._list_items()}
        # Two waves of tasks, in a random order fixed by the seed.
        order = sorted(pending, key=lambda i: uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}/{i}"))
        half = len(order) // 2
        self.waves = [order[:half], order[half:]]
        self.summary["curation"] = {
            "dataset_id": self.dataset_id,
            "items_received": int(imported.items_received),
            "items_registered": int(imported.items_registered),
            "vectors_written": int(imported.vectors_written),
            "vector_spaces": list(ds.vector_spaces),
            "injected": {
                "exact_copies": self.data.count("exact-copy"),
                "near_copies": self.data.count("near-copy"),
            },
            "exact_duplicates": int(imported.exact_duplicates),
            "near_duplicate_groups": int(dups.group_count),
            "near_duplicate_groups_injected": found_injected,
            "near_duplicates_excluded": excluded,
            "duplicates_removed": int(imported.exact_duplicates) + excluded,
            "items_scanned": int(dups.items_scanned),
            "included": int(included.changed),
            "counts": {
                "total": int(ds.counts.total),
                "included": int(ds.counts.included),
                "excluded": int(ds.counts.excluded),
                "pending": int(ds.counts.pending),
            },
            "waves": [len(w) for w in self.waves],
            "samples": self._samples(final, set(near)),
        }
        c = self.summary["curation"]
        self.say(
            f"  registered {c['items_registered']} items; removed {c['duplicates_removed']}"
            f" duplicates ({c['exact_duplicates']} exact, {excluded} near);"
            f" included {c['included']}"
        )

    def _samples(self, by_ext: Mapping[str, cpb.Item], near: set[str]) -> list[dict[str, Any]]:
        """Pictures for the report: originals next to their copies and what curation did."""
        pixels = {d.external_id: d.pixels for d in self.data.items}
        out: list[dict[str, Any]] = []
        exact = [d for d in self.data.items if d.kind == "exact-copy"][:2]
        close = [
            d
            for d in self.data.items
            if d.kind == "near-copy" and by_ext[d.external_id].item_id in near
        ][:2]
        for d in (*exact, *close):
            for ext, what in ((d.copy_of, "original"), (d.external_id, d.kind)):
                item = by_ext[ext]
                out.append(
                    {
                        "external_id": ext,
                        "what": what,
                        "class": d.truth,
                        "state": cpb.CurationState.Name(item.state)
                        .removeprefix("CURATION_STATE_")
                        .lower(),
                        "pixels": list(pixels[ext]),
                    }
                )
        return out

    async def _list_items(self, states: Sequence[int] = ()) -> list[cpb.Item]:
        out: list[cpb.Item] = []
        token = ""
        while True:
            resp = await self.curation.ListItems(
                cpb.ListItemsRequest(
                    dataset_id=self.dataset_id, page_size=1000, page_token=token, states=states
                )
            )
            out.extend(resp.items)
            token = resp.next_page_token
            if not token:
                return out

    # --- 3. routing ----------------------------------------------------------------------------

    async def stage_routing_setup(self) -> None:
        wave = max(len(w) for w in self.waves)
        (va, _), (vb, _) = self.keys.vendors
        ids = {t: f"{self.run_id}-{t}" for t in TEAMS}
        pools = [
            rpb.Pool(
                pool_id=ids["in-house"],
                display_name="In-house experts",
                kind=rpb.POOL_KIND_IN_HOUSE,
                cost_per_task=1.0,
                active=True,
            ),
            rpb.Pool(
                pool_id=ids["vendor-a"],
                display_name=f"Vendor A ({va})",
                kind=rpb.POOL_KIND_VENDOR,
                vendor_id=va,
                capacity=max(4, int(wave * 0.3)),
                cost_per_task=0.4,
                active=True,
            ),
            rpb.Pool(
                pool_id=ids["vendor-b"],
                display_name=f"Vendor B ({vb})",
                kind=rpb.POOL_KIND_VENDOR,
                vendor_id=vb,
                capacity=max(4, int(wave * 0.4)),
                cost_per_task=0.25,
                active=True,
            ),
        ]
        for p in pools:
            await self.routing.CreatePool(rpb.CreatePoolRequest(pool=p))
        self.pools = Pools(ids, {v: k for k, v in ids.items()})
        names = {
            "in-house": ["alice", "bob", "carol"],
            "vendor-a": ["w1", "w2", "w3"],
            "vendor-b": ["w1", "w2", "w3"],
        }
        profiles = {"in-house": IN_HOUSE, "vendor-a": VENDOR_A, "vendor-b": VENDOR_B}
        prefix = {"in-house": "in-house", "vendor-a": va, "vendor-b": vb}
        self.people: list[SimAnnotator] = []
        for team in TEAMS:
            for n in names[team]:
                a = SimAnnotator(
                    f"{prefix[team]}/{self.run_id}-{n}",
                    f"{team}/{n}",
                    team,
                    profiles[team],
                    self.seed,
                )
                await self.routing.RegisterAnnotator(
                    rpb.RegisterAnnotatorRequest(
                        annotator=rpb.Annotator(
                            annotator_id=a.annotator_id,
                            pool_id=ids[team],
                            display_name=a.name,
                            active=True,
                        )
                    )
                )
                self.people.append(a)
        self.team_of = {a.annotator_id: a.team for a in self.people}
        self.name_of = {a.annotator_id: a.name for a in self.people}

        config = rpb.WorkflowConfig(
            overlap=rpb.OverlapPolicy(
                default_sample_rate=0.25,
                default_annotators=2,
                per_class=[
                    rpb.ClassOverlap(class_id=c, sample_rate=1.0, annotators=2) for c in CONFUSABLE
                ],
            ),
            review_policy=rpb.REVIEW_POLICY_TARGETED,
            review_sample_rate=0.05,
            lease_seconds=900,
            gold_rate=self.scale.gold_rate,
            max_tasks_per_claim=self.scale.claim,
            prelabels_enabled=True,
        )
        rules = rpb.RoutingRules(
            rules=[
                rpb.RoutingRule(
                    name="unsure-to-experts",
                    when=rpb.RuleCondition(has_prelabel=True, max_confidence=0.5),
                    pools=[ids["in-house"], ids["vendor-a"]],
                ),
                rpb.RoutingRule(
                    name="confusable-to-vendor-a",
                    when=rpb.RuleCondition(class_ids=list(CONFUSABLE)),
                    pools=[ids["vendor-a"], ids["in-house"]],
                ),
            ],
            default_pools=[ids["vendor-b"], ids["vendor-a"], ids["in-house"]],
        )
        request = rpb.CreateProjectRequest(
            project_id=self.project_id,
            display_name="Digits (labelops demo)",
            ontology_id=self.ontology_id,
            ontology_version="1.0.0",
            config=config,
            rules=rules,
            request_id=_rid(),
        )

        async def create() -> Any:
            # Routing learns published versions from the ontology topic: retry until it has.
            try:
                return await self.routing.CreateProject(request)
            except grpc.RpcError as exc:
                if _reason(exc) == "ONTOLOGY_VERSION_UNKNOWN":
                    return None
                raise

        created = await until(create, 60, what="routing knows the ontology version")
        gold = await self.routing.AddGoldTasks(
            rpb.AddGoldTasksRequest(
                project_id=self.project_id,
                items=[
                    rpb.GoldItem(
                        item=rpb.TaskItem(
                            item_id=g.external_id,
                            uri=g.uri,
                            modality="image",
                            context=L.ItemContext(width=8, height=8),
                        ),
                        expected=whole_item(g.external_id, g.truth, "gold"),
                    )
                    for g in self.data.gold
                ],
                request_id=_rid(),
            )
        )
        self.in_house = InHouseTeam(
            self.in_house_work, ids["in-house"], [a for a in self.people if a.team == "in-house"]
        )
        self.summary["routing"] = {
            "project_id": self.project_id,
            "config": {
                "overlap": {
                    "default": {"sample_rate": 0.25, "annotators": 2},
                    "per_class": {c: {"sample_rate": 1.0, "annotators": 2} for c in CONFUSABLE},
                },
                "review_policy": "targeted",
                "review_sample_rate": 0.05,
                "gold_rate": self.scale.gold_rate,
                "prelabels_enabled": True,
                "rules_version": int(created.rules.version),
            },
            "rules": [
                {
                    "name": "unsure-to-experts",
                    "when": "pre-label confidence <= 0.5",
                    "pools": [ids["in-house"], ids["vendor-a"]],
                },
                {
                    "name": "confusable-to-vendor-a",
                    "when": f"class hint in {list(CONFUSABLE)}",
                    "pools": [ids["vendor-a"], ids["in-house"]],
                },
                {
                    "name": "default",
                    "when": "everything else (cheapest first, overflow)",
                    "pools": [ids["vendor-b"], ids["vendor-a"], ids["in-house"]],
                },
            ],
            "pools": [
                {
                    "team": self.pools.teams[p.pool_id],
                    "pool_id": p.pool_id,
                    "kind": "vendor" if p.kind == rpb.POOL_KIND_VENDOR else "in_house",
                    "vendor_id": p.vendor_id,
                    "capacity": p.capacity,
                    "cost_per_task": p.cost_per_task,
                    "annotators": [
                        a.name for a in self.people if a.team == self.pools.teams[p.pool_id]
                    ],
                }
                for p in pools
            ],
            "gold_tasks": len(gold.task_ids),
        }
        self.say(
            f"  project {self.project_id}: 3 pools, {len(self.people)} annotators,"
            f" {len(gold.task_ids)} gold tasks"
        )

    async def create_tasks(self, item_ids: Sequence[str], *, with_model: bool) -> None:
        """Tasks for included items. With the model: its predicted class and confidence are
        the tasks' signals, which the routing rules and per-class overlap read at creation."""
        signals: dict[str, rpb.TaskSignals] = {}
        if with_model:
            for k in range(0, len(item_ids), 1000):
                pred = await self.prelabel.PredictItems(
                    ppb.PredictItemsRequest(
                        project_id=self.project_id, item_ids=item_ids[k : k + 1000]
                    )
                )
                for p in pred.predictions:
                    cls, conf = max(p.probabilities.items(), key=lambda kv: kv[1])
                    signals[p.item_id] = rpb.TaskSignals(class_id=cls, confidence=conf)
        items = [
            rpb.TaskItem(
                item_id=i,
                uri=self.uris[self.external[i]],
                modality="image",
                context=L.ItemContext(width=8, height=8),
                signals=signals.get(i),
            )
            for i in item_ids
        ]
        resp = await self.routing.CreateTasks(
            rpb.CreateTasksRequest(project_id=self.project_id, items=items, request_id=_rid())
        )
        self.say(
            f"  {resp.tasks_created} tasks created"
            + (f" with the model's class hints ({len(signals)})" if with_model else " (cold start)")
        )

    # --- 4. prelabel ---------------------------------------------------------------------------

    async def stage_prelabel_setup(self) -> None:
        m = await self.prelabel.RegisterModel(
            ppb.RegisterModelRequest(
                project_id=self.project_id,
                name="digits-logistic",
                kind=ppb.MODEL_KIND_LOGISTIC,
                classes=list(CLASSES),
                vector_space="custom",
                retrain_every=self.scale.retrain_every,
                request_id=_rid(),
            )
        )
        self.model_id = m.model.model_id
        self.summary["prelabel"] = {
            "model_id": self.model_id,
            "kind": "logistic",
            "vector_space": "custom",
            "retrain_every": self.scale.retrain_every,
        }
        self.say(
            f"  model {self.model_id}: logistic on the pixel vectors, retrains every"
            f" {self.scale.retrain_every} labels"
        )

    async def await_model(self, timeout: float = 60.0) -> None:
        """Wait until the model has trained on (nearly) every accepted label, so the next
        wave is pre-labeled by the freshest version."""
        await self.accepted_tail.poll()
        labeled = len({m.item_id for m in self.accepted_tail.payloads})

        async def caught_up() -> bool:
            got = await self.prelabel.GetModel(ppb.GetModelRequest(model_id=self.model_id))
            return bool(got.model.current.version) and (
                labeled - int(got.model.current.trained_on) < self.scale.retrain_every
            )

        try:
            await until(caught_up, timeout, what="model retrained on the accepted labels")
        except TimeoutError as exc:
            self.say(f"  [yellow]{exc}[/]")

    # --- labeling rounds -----------------------------------------------------------------------

    async def labeling_phase(self, phase: int) -> None:
        teams = TEAMS
        async with contextlib.AsyncExitStack() as stack:
            vendors: dict[str, VendorWorkforce] = {}
            for team, stub in zip(("vendor-a", "vendor-b"), self.vendor_work, strict=True):
                stream = await stack.enter_async_context(WorkStream(stub).open())
                vendors[team] = VendorWorkforce(
                    stream, self.pools.ids[team], [a for a in self.people if a.team == team]
                )
            self._vendors = vendors
            stalls = 0
            previous_batch: set[str] = set()
            for n in range(1, self.scale.max_rounds + 1):
                t0 = time.monotonic()
                results: tuple[RoundResult, ...] = await asyncio.gather(
                    self.in_house.round(self.project_id, self.scale.claim, self.truth),
                    vendors["vendor-a"].round(self.project_id, self.scale.claim, self.truth),
                    vendors["vendor-b"].round(self.project_id, self.scale.claim, self.truth),
                )
                rnd: dict[str, Any] = {
                    "phase": phase,
                    "round": n,
                    "offers": {t: r.offers for t, r in zip(teams, results, strict=True)},
                    "labels": {t: r.labels for t, r in zip(teams, results, strict=True)},
                }
                for r in results:
                    self.ledger.extend(r.ledger)
                regular = [
                    w.task_id for r in results for w in r.ledger if w.item_id in self.external
                ]
                if previous_batch and regular:
                    rnd["offers_from_al_batch"] = round(
                        sum(1 for t in regular if t in previous_batch) / len(regular), 3
                    )
                rnd["reviewed"] = await self.settle()
                rnd.update(await self.model_snapshot())
                al = await self.active_learning_round()
                previous_batch = set(al.pop("batch_task_ids", []))
                rnd["active_learning"] = al
                stats = await self.routing.GetQueueStats(
                    rpb.GetQueueStatsRequest(project_id=self.project_id)
                )
                outstanding = sum(int(p.outstanding) for p in stats.pools)
                rnd["outstanding"] = outstanding
                rnd["seconds"] = round(time.monotonic() - t0, 2)
                self.rounds.append(rnd)
                offers = sum(r.offers for r in results)
                done = ", ".join(f"{t} {r.labels}" for t, r in zip(teams, results, strict=True))
                self.say(
                    f"  phase {phase} round {n}: {offers} offers ({done}),"
                    f" reviewed {rnd['reviewed']}, model {rnd.get('model_accuracy_all') or '-'},"
                    f" open {outstanding}, {rnd['seconds']}s"
                )
                if outstanding == 0:
                    break
                stalls = stalls + 1 if offers == 0 else 0
                if stalls >= 3:
                    self.say(f"  [yellow]{outstanding} tasks left that no one may take[/]")
                    break

    async def settle(self, timeout: float = 90.0, grace: float = 8.0) -> int:
        """Wait until QA has decided every completed task (accepted it, or sent it to review,
        which the reviewer bot works); returns how many tasks were reviewed.

        A re-labeled task that QA flagged as a label issue gets ``grace`` seconds, then counts
        as stuck: QA's consumer dead-letters the label that completes it again (see
        demo/README.md, "What the demo found"), and the run must not wait for it forever.
        """
        reviewed = 0
        deadline = time.monotonic() + timeout
        while True:
            await self.labels_tail.poll()
            await self.accepted_tail.poll()
            completions = Counter(
                m.task_id for m in self.labels_tail.payloads if m.task_labeled and not m.gold
            )
            accepted = Counter(m.task_id for m in self.accepted_tail.payloads)
            n = await self.reviewer.work_queue(self.project_id)
            reviewed += n
            if n:
                continue
            now = time.monotonic()
            waiting = []
            for t, c in completions.items():
                if c <= accepted.get(t, 0) or t in self.stuck:
                    continue
                if t in self.issue_tasks:
                    since = self._pending_since.setdefault(t, now)
                    if now - since > grace:
                        self.stuck.add(t)
                        continue
                waiting.append(t)
            if not waiting:
                return reviewed
            if now > deadline:
                self.say(
                    f"  [yellow]QA has not decided {len(waiting)} completed task(s)"
                    f" within {timeout:.0f}s[/]"
                )
                return reviewed
            await asyncio.sleep(0.3)

    async def model_snapshot(self) -> dict[str, Any]:
        got = await self.prelabel.GetModel(ppb.GetModelRequest(model_id=self.model_id))
        cur = got.model.current
        out: dict[str, Any] = {
            "model_version": cur.version,
            "model_trained_on": int(cur.trained_on),
        }
        if not cur.version:
            return out
        ids = [i for w in self.waves for i in w]
        correct = total = 0
        for k in range(0, len(ids), 1000):
            pred = await self.prelabel.PredictItems(
                ppb.PredictItemsRequest(project_id=self.project_id, item_ids=ids[k : k + 1000])
            )
            for p in pred.predictions:
                total += 1
                correct += (
                    max(p.probabilities.items(), key=lambda kv: kv[1])[0] == self.truth[p.item_id]
                )
        if total:
            await self.accepted_tail.poll()
            labels = len({m.item_id for m in self.accepted_tail.payloads})
            out["model_accuracy_all"] = round(correct / total, 4)
            point = {
                "labels_accepted": labels,
                "trained_on": int(cur.trained_on),
                "version": cur.version,
                "accuracy_all_items": round(correct / total, 4),
                "heldout_accuracy": round(cur.metrics.accuracy, 4)
                if cur.metrics.available
                else None,
            }
            if not self.model_curve or self.model_curve[-1] != point:
                self.model_curve.append(point)
        return out

    async def _counted(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.ABORTED:
                self.aborted_retries += 1
            raise

    async def active_learning_round(self) -> dict[str, Any]:
        """ScorePriorities with the serving model (entropy, k-center for diversity); the next
        round's queues follow the priorities once routing has consumed them."""
        batch = len(self.people) * self.scale.claim
        request = ppb.ScorePrioritiesRequest(
            project_id=self.project_id,
            strategy=ppb.SCORE_STRATEGY_ENTROPY,
            diversity=ppb.DIVERSITY_K_CENTER,
            batch_size=batch,
            request_id=_rid(),
        )
        # ABORTED when the trainer's own priority round (or an ROI switch) appends to the
        # project's pre-labeling stream at the same moment.
        resp = await retry_aborted(lambda: self._counted(self.prelabel.ScorePriorities(request)))
        ps = list(resp.priorities)
        if not ps:
            return {"scored": 0}
        top, rest = ps[:batch], ps[batch:]

        async def routed() -> bool:
            for p in top[:5]:
                t = await self.routing.GetTask(
                    rpb.GetTaskRequest(project_id=self.project_id, task_id=p.task_id)
                )
                if abs(t.task.signals.priority - p.priority) < 1e-6:
                    return True
            return False

        try:
            await until(routed, 15, interval=0.2, what="routing applied the priorities")
        except TimeoutError:
            pass
        return {
            "model_version": resp.model_version,
            "scored": len(ps),
            "batch": len(top),
            "batch_uncertainty": _mean(p.uncertainty for p in top),
            "rest_uncertainty": _mean(p.uncertainty for p in rest),
            # The share of the next round's offers a queue ignoring priorities would take
            # from the batch (each open task equally likely).
            "random_share": round(len(top) / len(ps), 4),
            "batch_task_ids": [p.task_id for p in top],
        }

    # --- 5. qa: label issues -------------------------------------------------------------------

    async def stage_label_issues(self) -> None:
        oos = await self.prelabel.GetOutOfSampleProbabilities(
            ppb.GetOutOfSampleProbabilitiesRequest(project_id=self.project_id, folds=5)
        )
        found = await self.qa.FindLabelIssues(
            qpb.FindLabelIssuesRequest(
                project_id=self.project_id,
                predictions=[
                    qpb.ItemPrediction(task_id=p.task_id, probabilities=p.probabilities)
                    for p in oos.predictions
                ],
                model=oos.model,
                request_id=_rid(),
            )
        )
        issues = list(found.issues)
        # What the datasets hold for each task: its latest accepted label (a reviewer's fix
        # included), against the truth.
        await self.accepted_tail.poll()
        accepted: dict[str, str] = {}
        for m in self.accepted_tail.payloads:
            accepted[m.task_id] = _primary(m.labels)
        item_of = {m.task_id: m.item_id for m in self.accepted_tail.payloads}
        wrong_before = sum(1 for t, c in accepted.items() if self.truth[item_of[t]] != c)
        really_wrong = sum(
            1 for i in issues if accepted.get(i.task_id, i.given_class) != self.truth[i.item_id]
        )
        # QA's "given" class is the task's consensus; where a reviewer fixed the label, the
        # accepted class differs from it.
        not_accepted = sum(
            1 for i in issues if accepted.get(i.task_id, i.given_class) != i.given_class
        )

        async def reopened() -> bool:
            for i in issues:
                t = await self.routing.GetTask(
                    rpb.GetTaskRequest(project_id=self.project_id, task_id=i.task_id)
                )
                if t.task.state == rpb.TASK_STATE_LABELED:
                    return False
            return True

        if issues:
            try:
                await until(reopened, 30, what="routing reopened the flagged tasks")
            except TimeoutError as exc:
                self.say(f"  [yellow]{exc}[/]")
        self.issue_tasks = {i.task_id for i in issues}
        self.summary["qa_label_issues"] = {
            "model": oos.model,
            "examined": int(found.examined),
            "flagged": len(issues),
            "flagged_really_wrong": really_wrong,
            "flagged_given_is_not_the_accepted_label": not_accepted,
            "wrong_accepted_labels_before": wrong_before,
            "examples": [
                {
                    "item": self.external.get(i.item_id, i.item_id),
                    "given": i.given_class,
                    "accepted": accepted.get(i.task_id, ""),
                    "suggested": i.suggested_class,
                    "truth": self.truth[i.item_id],
                    "self_confidence": round(i.self_confidence, 3),
                }
                for i in issues[:8]
            ],
        }
        self.say(
            f"  {len(issues)} label issues flagged of {found.examined} labels"
            f" ({really_wrong} really wrong); the tasks are reopened for one more label"
        )

    # --- 6. datasets ---------------------------------------------------------------------------

    async def dataset_version(self, description: str) -> dpb.DatasetVersion:
        await self.settle()
        await self.accepted_tail.poll()
        end = await self.kafka.cut_with(len(self.accepted_tail.events))
        cut = dpb.Cut(
            offsets=dpb.Offsets(
                offsets=[
                    dpb.PartitionOffset(topic=self.qa_topic, partition=p, offset=o)
                    for p, o in sorted(end.items())
                ]
            )
        )
        request = dpb.CreateDatasetVersionRequest(
            dataset_id=self.versions_id,
            project_id=self.project_id,
            cut=cut,
            description=description,
            request_id=_rid(),
        )

        async def create() -> Any:
            try:
                return await self.datasets.CreateDatasetVersion(request)
            except grpc.RpcError as exc:
                # The projection catches up with the cut (the same request id is safe).
                if _reason(exc) in ("PROJECTION_BEHIND", "ITEM_METADATA_MISSING"):
                    return None
                raise

        version = (await until(create, 120, what="datasets projection reached the cut")).version
        self.say(
            f"  {version.name}: {version.rows} rows, {version.files} files"
            f" ({version.files_reused} reused), manifest {version.manifest_sha256[:12]}"
        )
        return version

    async def stage_datasets(self, v1: dpb.DatasetVersion, v2: dpb.DatasetVersion) -> None:
        summary = dpb.DiffSummary()
        changes: list[Any] = []
        token = ""
        while True:
            resp = await self.datasets.DiffDatasetVersions(
                dpb.DiffDatasetVersionsRequest(
                    dataset_id=self.versions_id,
                    from_version=v1.version,
                    to_version=v2.version,
                    page_size=1000,
                    page_token=token,
                )
            )
            summary = resp.summary
            changes.extend(resp.changes)
            token = resp.next_page_token
            if not token:
                break
        changed = [c for c in changes if c.kind == dpb.CHANGE_KIND_CHANGED]
        fixed = sum(
            1 for c in changed if c.to_class_id == self.truth.get(c.item_id) != c.from_class_id
        )
        self.summary["datasets"] = {
            "dataset_id": self.versions_id,
            "versions": [_version_dict(v) for v in (v1, v2)],
            "diff": {
                "from": int(v1.version),
                "to": int(v2.version),
                "added": int(summary.added),
                "removed": int(summary.removed),
                "changed": int(summary.changed),
                "unchanged": int(summary.unchanged),
                "changed_to_truth": fixed,
                "examples": [
                    {
                        "item": self.external.get(c.item_id, c.item_id),
                        "from": c.from_class_id,
                        "to": c.to_class_id,
                        "truth": self.truth.get(c.item_id, ""),
                        "fields": list(c.changed_fields),
                        "blame": [
                            {
                                "offset": int(b.offset),
                                "consensus": b.consensus_method,
                                "review": b.review_decision,
                                "annotators": [self.name_of.get(a, a) for a in b.annotator_ids],
                                "reviewer": b.reviewer,
                            }
                            for b in c.blame
                        ],
                    }
                    for c in changed[:6]
                ],
            },
        }
        self.say(
            f"  diff v{v1.version}→v{v2.version}: +{summary.added} -{summary.removed}"
            f" ~{summary.changed} ({fixed} changed to the true class)"
        )
        fetched = await asyncio.to_thread(
            mlops_fetch,
            self.targets["datasets"],
            self.keys.admin,
            self.versions_id,
            int(v2.version),
        )
        accuracy = _mean(
            1.0 if self.truth.get(r["item_id"]) == r["class_id"] else 0.0
            for r in fetched.pop("_rows")
        )
        fetched["label_accuracy_vs_truth"] = round(accuracy, 4) if accuracy is not None else None
        fetched["head"] = [
            {"item_id": r["item_id"], "external_id": self.external.get(r["item_id"], "")}
            | {k: v for k, v in r.items() if k != "item_id"}
            for r in fetched["head"]
        ]
        self.summary["mlops"] = fetched
        self.say(
            f"  MLOps fetch of v{v2.version}: {fetched['rows']} rows (the version says"
            f" {fetched['version_rows']}), labels {fetched['label_accuracy_vs_truth']:.1%} right"
        )

    # --- qa analytics and the report's numbers -------------------------------------------------

    async def stage_qa(self) -> None:
        quality = await self.qa.GetAnnotatorQuality(
            qpb.GetAnnotatorQualityRequest(project_id=self.project_id)
        )
        agreement = await self.qa.MeasureAgreement(
            qpb.MeasureAgreementRequest(project_id=self.project_id)
        )
        ds = await self.qa.RunConsensus(
            qpb.RunConsensusRequest(
                project_id=self.project_id,
                method=qpb.CONSENSUS_METHOD_DAWID_SKENE,
                request_id=_rid(),
            )
        )
        # How right each consensus is, graded on the same tasks.
        live, dawid = await self._consensus(""), await self._consensus(ds.run_id)
        common = sorted(set(live) & set(dawid))
        live_right = sum(1 for t in common if live[t][1] == self.truth.get(live[t][0]))
        ds_right = sum(1 for t in common if dawid[t][1] == self.truth.get(dawid[t][0]))
        await self.drift_tail.poll()
        await self.gold_tail.poll()
        annotators = []
        for q in quality.annotators:
            annotators.append(
                {
                    "annotator": self.name_of.get(q.annotator_id, q.annotator_id),
                    "team": self.team_of.get(q.annotator_id, "?"),
                    "gold_answered": int(q.gold_answered),
                    "gold_accuracy": round(q.gold_accuracy, 4),
                    "recent_accuracy": round(q.recent_accuracy, 4),
                    "drifting": bool(q.drifting),
                }
            )
        by_team: dict[str, list[int]] = defaultdict(list)
        gold_series: dict[str, list[int]] = defaultdict(list)
        for g in self.gold_tail.payloads:
            gold_series[self.name_of.get(g.annotator_id, g.annotator_id)].append(int(g.correct))
            by_team[self.team_of.get(g.annotator_id, "?")].append(int(g.correct))
        report = agreement.reports[0] if agreement.reports else qpb.AgreementReport()
        self.summary["qa"] = {
            "annotators": annotators,
            "team_gold_accuracy": {t: round(sum(v) / len(v), 4) for t, v in by_team.items() if v},
            "gold_series": gold_series,
            "drift_events": [
                {
                    "annotator": self.name_of.get(d.annotator_id, d.annotator_id),
                    "team": self.team_of.get(d.annotator_id, "?"),
                    "baseline_accuracy": round(d.baseline_accuracy, 4),
                    "recent_accuracy": round(d.recent_accuracy, 4),
                    "recent_answers": int(d.recent_answers),
                }
                for d in self.drift_tail.payloads
            ],
            "agreement": {
                "items": int(report.items),
                "annotators": int(report.annotators),
                "krippendorff_alpha": _finite(report.krippendorff_alpha),
                "fleiss_kappa": _finite(report.fleiss_kappa),
                "per_class_alpha": {
                    c.class_id: _finite(c.krippendorff_alpha) for c in report.classes
                },
                "pairs": [
                    {
                        "a": self.name_of.get(p.annotator_a, p.annotator_a),
                        "b": self.name_of.get(p.annotator_b, p.annotator_b),
                        "cohen_kappa": _finite(p.cohen_kappa),
                        "shared_items": int(p.shared_items),
                    }
                    for p in report.pairs
                ],
            },
            "review": {
                "reviewed": self.reviewer.stats.accepted + self.reviewer.stats.fixed,
                "accepted": self.reviewer.stats.accepted,
                "fixed": self.reviewer.stats.fixed,
            },
            "dawid_skene": {
                "run_id": ds.run_id,
                "tasks": int(ds.tasks),
                "changed_vs_live": int(ds.changed_vs_live),
                "graded_tasks": len(common),
                "accuracy_vs_truth": _ratio(ds_right, len(common)),
                "live_accuracy_vs_truth": _ratio(live_right, len(common)),
            },
        }
        drifting = [a["annotator"] for a in annotators if a["drifting"]]
        self.say(
            f"  agreement alpha {self.summary['qa']['agreement']['krippendorff_alpha']},"
            f" drifting: {', '.join(drifting) or 'nobody flagged'},"
            f" reviewed {self.summary['qa']['review']['reviewed']}"
        )

    async def _consensus(self, run_id: str) -> dict[str, tuple[str, str]]:
        """(item, class) per task of a consensus run ("" = the live one)."""
        out: dict[str, tuple[str, str]] = {}
        token = ""
        while True:
            resp = await self.qa.ListConsensus(
                qpb.ListConsensusRequest(
                    project_id=self.project_id, run_id=run_id, page_size=1000, page_token=token
                )
            )
            for c in resp.results:
                out[c.task_id] = (c.item_id, _primary(c.labels))
            token = resp.next_page_token
            if not token:
                return out

    async def collect(self) -> None:
        """The numbers the report needs beyond the stages' own answers."""
        await self.labels_tail.poll()
        await self.reroute_tail.poll()
        await self.trained_tail.poll()
        labels = self.labels_tail.payloads
        # Labels per annotator / team (the routing service's record) graded against the truth.
        per_annotator: dict[str, dict[str, Any]] = {}
        per_team: Counter[str] = Counter()
        team_correct: dict[str, list[int]] = defaultdict(list)
        outcome_by_team: dict[str, Counter[str]] = defaultdict(Counter)
        for m in labels:
            name = self.name_of.get(m.annotator_id, m.annotator_id)
            team = self.team_of.get(m.annotator_id, "?")
            row = per_annotator.setdefault(
                name, {"team": team, "labels": 0, "gold": 0, "correct": 0, "seconds": []}
            )
            row["labels"] += 1
            row["gold"] += int(m.gold)
            ok = _primary(m.labels) == self.truth.get(m.item_id)
            row["correct"] += int(ok)
            row["seconds"].append(m.time_spent_ms / 1000)
            per_team[team] += 1
            team_correct[team].append(int(ok))
            outcome_by_team[team][OUTCOMES.get(m.prelabel_outcome, "unspecified")] += 1
        for row in per_annotator.values():
            row["accuracy_vs_truth"] = round(row.pop("correct") / row["labels"], 4)
            row["median_seconds"] = round(statistics.median(row.pop("seconds")), 2)
        # Pre-label outcomes per class (from the ledger, which knows what was shown).
        by_class: dict[str, Counter[str]] = defaultdict(Counter)
        seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
        for w in self.ledger:
            if w.item_id not in self.external:
                continue  # gold
            o = OUTCOMES.get(w.outcome, "?")
            by_class[w.truth][o] += 1
            if w.prelabel is not None:
                by_class[w.truth]["prelabel_correct"] += int(w.prelabel == w.truth)
            seconds[(w.truth, "with" if w.prelabel is not None else "without")].append(
                w.time_spent_ms / 1000
            )
        roi = await self.prelabel.GetClassRoi(ppb.GetClassRoiRequest(project_id=self.project_id))
        service_roi = {c.class_id: c for c in roi.classes}
        prelabel_classes: list[dict[str, Any]] = []
        for c in CLASSES:
            k = by_class.get(c, Counter())
            shown = k["accepted"] + k["replaced"] + k["edited"]
            s = service_roi.get(c)
            with_s = seconds.get((c, "with"), [])
            without_s = seconds.get((c, "without"), [])
            prelabel_classes.append(
                {
                    "class": c,
                    "shown": shown,
                    "accepted": k["accepted"],
                    "replaced": k["replaced"],
                    "from_scratch": k["none"],
                    "acceptance_rate": round(k["accepted"] / shown, 4) if shown else None,
                    "prelabel_precision": round(k["prelabel_correct"] / shown, 4)
                    if shown
                    else None,
                    "median_s_with": round(statistics.median(with_s), 2) if with_s else None,
                    "median_s_without": round(statistics.median(without_s), 2)
                    if without_s
                    else None,
                    "service": (
                        {
                            "enabled": s.enabled,
                            "prelabeled": int(s.prelabeled),
                            "from_scratch": int(s.from_scratch),
                            "acceptance_rate": s.acceptance_rate
                            if s.HasField("acceptance_rate")
                            else None,
                            "saving_s": round(s.saving_s, 3) if s.HasField("saving_s") else None,
                            "saving_low_s": round(s.saving_low_s, 3)
                            if s.HasField("saving_low_s")
                            else None,
                            "saving_high_s": round(s.saving_high_s, 3)
                            if s.HasField("saving_high_s")
                            else None,
                            "reason": s.reason,
                        }
                        if s is not None
                        else None
                    ),
                }
            )
        all_with = [x for (c, k), v in seconds.items() if k == "with" for x in v]
        all_without = [x for (c, k), v in seconds.items() if k == "without" for x in v]
        saved = (
            (statistics.median(all_without) - statistics.median(all_with)) * len(all_with)
            if all_with and all_without
            else 0.0
        )
        # Tasks per pool, at the end (the pool each task was finally routed to).
        tasks_per_pool: Counter[str] = Counter()
        by_rule: Counter[str] = Counter()
        required: Counter[int] = Counter()
        token = ""
        while True:
            resp = await self.routing.ListTasks(
                rpb.ListTasksRequest(project_id=self.project_id, page_size=1000, page_token=token)
            )
            for t in resp.tasks:
                if t.gold:
                    continue
                tasks_per_pool[self.pools.teams.get(t.pool_id, t.pool_id)] += 1
                by_rule[t.route_rule] += 1
                required[int(t.required_labels)] += 1
            token = resp.next_page_token
            if not token:
                break
        costs = {p["team"]: p["cost_per_task"] for p in self.summary["routing"]["pools"]}
        r = self.summary["routing"]
        r["tasks_per_pool"] = dict(tasks_per_pool)
        r["tasks_by_rule"] = dict(by_rule)
        r["required_labels"] = {str(k): v for k, v in sorted(required.items())}
        r["rerouted_by_prelabels"] = len(self.reroute_tail.events)
        r["labels_per_pool"] = {t: per_team.get(t, 0) for t in TEAMS}
        r["label_accuracy_per_pool"] = {
            t: round(sum(v) / len(v), 4) for t, v in team_correct.items() if v
        }
        r["labels_per_annotator"] = per_annotator
        r["prelabel_outcomes"] = {t: dict(c) for t, c in outcome_by_team.items()}
        r["cost"] = {t: round(tasks_per_pool.get(t, 0) * costs.get(t, 0), 2) for t in TEAMS}
        r["rounds"] = self.rounds
        r["vendor_stream_messages"] = {
            t: v.stream.messages for t, v in getattr(self, "_vendors", {}).items()
        }
        # Model versions, from the service's own record of each training.
        got = await self.prelabel.GetModel(ppb.GetModelRequest(model_id=self.model_id))
        versions = [
            {
                "version": v.version,
                "trained_on": int(v.trained_on),
                "heldout_accuracy": round(v.metrics.accuracy, 4) if v.metrics.available else None,
                "macro_f1": round(v.metrics.macro_f1, 4) if v.metrics.available else None,
                "test_size": int(v.metrics.test_size),
            }
            for v in reversed(got.versions)
        ]
        p = self.summary["prelabel"]
        p["versions"] = versions
        p["model_trained_events"] = len(self.trained_tail.events)
        p["accuracy_vs_labels"] = self.model_curve
        p["classes"] = prelabel_classes
        p["prelabel_acceptance"] = _ratio(
            sum(c["accepted"] for c in prelabel_classes),
            sum(c["shown"] for c in prelabel_classes),
        )
        p["seconds_saved"] = round(saved, 1)
        # Agreement per class recomputed from the labels themselves (one-vs-rest nominal alpha
        # over every task with two or more labels, and the raw pairwise agreement by true
        # class), beside the service's per-class alpha in the report.
        by_task: dict[str, list[str]] = defaultdict(list)
        item_of: dict[str, str] = {}
        for m in labels:
            if not m.gold:
                by_task[m.task_id].append(_primary(m.labels))
                item_of[m.task_id] = m.item_id
        multi = {t: v for t, v in by_task.items() if len(v) >= 2}
        per_class_alpha = {
            c: _finite(nominal_alpha([[x == c for x in v] for v in multi.values()]))
            for c in CLASSES
        }
        pair_agree: dict[str, list[int]] = defaultdict(list)
        for t, v in multi.items():
            c = self.truth.get(item_of[t], "")
            pair_agree[c].extend(
                int(v[i] == v[j]) for i in range(len(v)) for j in range(i + 1, len(v))
            )
        if "qa" in self.summary:
            self.summary["qa"]["agreement"]["multi_label_tasks"] = len(multi)
            self.summary["qa"]["agreement"]["per_class_alpha_all_items"] = per_class_alpha
            self.summary["qa"]["agreement"]["pairwise_agreement_by_true_class"] = {
                c: round(sum(v) / len(v), 4) for c, v in sorted(pair_agree.items()) if v
            }
        # Label issues: were the flagged tasks re-labeled, and did QA accept the re-labels?
        completions = Counter(m.task_id for m in labels if m.task_labeled and not m.gold)
        accepted = Counter(m.task_id for m in self.accepted_tail.payloads)
        li = self.summary.get("qa_label_issues", {})
        li["relabeled"] = sum(1 for t in self.issue_tasks if completions[t] >= 2)
        li["relabels_accepted"] = sum(1 for t in self.issue_tasks if accepted[t] >= 2)
        li["relabels_not_accepted"] = len(self.stuck)
        dead = await self.kafka.dead_letters()
        self.summary["run"]["dead_letters"] = {
            "count": len(dead),
            "by": dict(
                Counter(
                    f"{d['topic']} ({d['consumer']}) {d['type'].rsplit('.', 1)[-1]}:"
                    f" {d['error'].split(':', 1)[0].rsplit('.', 1)[-1]}"
                    for d in dead
                )
            ),
        }
        p["active_learning"] = [
            {
                "phase": rd["phase"],
                "round": rd["round"],
                **rd["active_learning"],
                "next_offers_from_batch": next(
                    (
                        x.get("offers_from_al_batch")
                        for x in self.rounds
                        if x["phase"] == rd["phase"] and x["round"] == rd["round"] + 1
                    ),
                    None,
                ),
            }
            for rd in self.rounds
            if rd["active_learning"].get("scored")
        ]


def nominal_alpha(units: Sequence[Sequence[Any]]) -> float:
    """Krippendorff's alpha (nominal) over units with two or more values each (NaN when
    there is no variation to measure against)."""
    o: dict[tuple[Any, Any], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    o[(a, b)] += 1 / (m - 1)
    n_c: dict[Any, float] = defaultdict(float)
    for (a, _), w in o.items():
        n_c[a] += w
    n = sum(n_c.values())
    if n <= 1:
        return float("nan")
    d_o = sum(w for (a, b), w in o.items() if a != b) / n
    d_e = sum(n_c[a] * n_c[b] for a in n_c for b in n_c if a != b) / (n * (n - 1))
    return 1.0 - d_o / d_e if d_e > 0 else float("nan")


def _finite(x: float) -> float | None:
    return round(x, 4) if x == x and abs(x) != float("inf") else None


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _version_dict(v: dpb.DatasetVersion) -> dict[str, Any]:
    return {
        "version": int(v.version),
        "name": v.name,
        "rows": int(v.rows),
        "labels": int(v.labels),
        "files": int(v.files),
        "files_reused": int(v.files_reused),
        "bytes": int(v.bytes),
        "manifest_sha256": v.manifest_sha256,
        "ontology_version": v.ontology_version,
        "cut": {str(c.partition): int(c.offset) for c in v.cut},
        "description": v.description,
    }


def mlops_fetch(target: str, api_key: str, dataset_id: str, version: int) -> dict[str, Any]:
    """What a training script does: fetch a version by number with ``labelops_client``
    (blocking; the demo runs it in a thread)."""
    from labelops_client import Client

    with Client(target, api_key=api_key) as client:
        v = client.dataset(dataset_id).version(version)
        df = v.to_pandas()
        head = df[["item_id", "split", "class_id", "consensus_method", "review_decision"]].head(8)
        return {
            "dataset_id": dataset_id,
            "version": v.number,
            "rows": len(df),
            "version_rows": int(v.record.rows),
            "columns": len(df.columns),
            "class_counts": {
                str(k): int(n) for k, n in df["class_id"].value_counts().sort_index().items()
            },
            "split_counts": {
                str(k): int(n) for k, n in df["split"].value_counts().sort_index().items()
            },
            "review_decisions": {
                str(k): int(n) for k, n in df["review_decision"].value_counts().sort_index().items()
            },
            "manifest_per_class": v.manifest.get("counts", {}).get("per_class", {}),
            "head": [{k: (str(val)) for k, val in row.items()} for row in head.to_dict("records")],
            "_rows": df[["item_id", "class_id"]].to_dict("records"),
        }


async def run_in_process(
    *,
    kafka_bootstrap: str,
    pg_dsn: str,
    data_dir: Path,
    scale: Scale,
    schemas: Mapping[str, str] | None = None,
    prefix: str | None = None,
    run_id: str | None = None,
    keep_schemas: bool = False,
    say: Say = print,
) -> dict[str, Any]:
    """Start the six services in this process (``local_system``) on fresh schemas and topics
    and run the workflow against them. Schemas this function names (``demo_<run>_<service>``)
    are dropped afterwards unless ``keep_schemas``; given ``schemas`` belong to the caller."""
    from labelops_grpckit import Authenticator

    from .system import SERVICES, local_system

    run = run_id or secrets.token_hex(3)
    keys = generated_keys()
    own = schemas is None
    names = dict(schemas) if schemas is not None else {s: f"demo_{run}_{s}" for s in SERVICES}
    overrides = {"qa": {"drift_window": scale.drift_window}}
    t0 = time.monotonic()
    try:
        async with local_system(
            kafka_bootstrap=kafka_bootstrap,
            pg_dsn=pg_dsn,
            data_dir=data_dir,
            schemas=names,
            prefix=prefix if prefix is not None else f"demo{run}-",
            authenticator=Authenticator(keys.fields),
            overrides=overrides,
        ) as system:
            say(f"six services up in {time.monotonic() - t0:.1f}s: {system.targets}")
            demo = Demo(
                system.targets,
                keys,
                scale,
                kafka_bootstrap=kafka_bootstrap,
                topics={s: system.topic(s) for s in SERVICES},
                run_id=run,
                say=say,
            )
            summary = await demo.run()
        summary["run"]["mode"] = "in-process"
        summary["run"]["schemas"] = names
        summary["run"]["total_seconds"] = round(time.monotonic() - t0, 1)
        return summary
    finally:
        if own and not keep_schemas:
            await drop_schemas(pg_dsn, names.values())


async def drop_schemas(pg_dsn: str, schemas: Iterable[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    try:
        for s in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')
    finally:
        await conn.close()

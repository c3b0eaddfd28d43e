"""Command handlers of the curation service: validate → (read / embed outside any lock) →
one transaction: lock the dataset row, decide, append events, update read models → COMMIT.

All events of a dataset go to its stream ``datasets/{id}``. Every writer of a dataset holds the
dataset's row lock for its transaction, so appends never conflict and the checks that need
everything committed before (external id, checksum, current curation states) are exact.

Bad input writes nothing: a batch is validated completely (field violations for every bad item)
before its transaction starts, and anything found inside the transaction rolls it back.
Commands with a ``request_id`` are idempotent (AIP-155): a repeat returns the first answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.context import current_principal
from labelops_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from labelops_core.ids import new_id
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import request_fingerprint

from ..adapters.content import Content, ContentError, ContentReader
from ..adapters.read_model import CurationReadModel
from ..adapters.vector_index import VectorIndexer
from ..domain import events as ev
from ..domain.dedup import find_near_duplicates
from ..domain.embedding import Embedder, EmbeddingError, EmbedInput, l2_normalize
from ..domain.items import (
    CUSTOM_SPACE,
    EXCLUDE_REASONS,
    INCLUDE_REASONS,
    MODALITY_NAMES,
    VECTOR_SPACE_RE,
    DatasetPolicy,
    check_dataset_id,
    item_id_for,
    validate_specs,
)

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Message)

WRITER_KINDS = frozenset({"user", "service"})
MAX_REQUEST_ID_CHARS = 128
MAX_CURATE_ITEMS = 10_000
#: Groups per DuplicatesFound event and item ids per ItemsCurated event (both stay well below
#: the 1 MB event limit: an id is 36 characters).
GROUPS_PER_EVENT = 2_000
IDS_PER_EVENT = 5_000
DEFAULT_THRESHOLD = 0.95


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class BatchResult:
    """What one committed RegisterItems message did."""

    received: int = 0
    registered: int = 0
    already_registered: int = 0
    exact_duplicates: int = 0
    vectors_written: int = 0
    item_ids: list[str] = field(default_factory=list)


class CurationHandlers:
    """The write side of the curation service.

    Args:
        store: the event store (its pool runs the transactions).
        read_model: tables written in the same transactions as the events.
        embedders: embedders this deployment offers, by name.
        content: reads item content the service may read.
        indexer: copies committed vectors to Qdrant (woken after each commit).
    """

    def __init__(
        self,
        store: EventStore,
        read_model: CurationReadModel,
        embedders: Mapping[str, Embedder],
        content: ContentReader,
        indexer: VectorIndexer | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.read_model = read_model
        self.embedders = dict(embedders)
        self.content = content
        self.indexer = indexer
        self.clock = clock

    # --- datasets -----------------------------------------------------------------------------

    async def create_dataset(self, req: pb.CreateDatasetRequest) -> pb.CreateDatasetResponse:
        self._authorize()
        check_dataset_id(req.dataset_id)
        fp = request_fingerprint("CreateDataset", req.SerializeToString(deterministic=True))
        if (
            earlier := await self._earlier(req.request_id, fp, pb.CreateDatasetResponse)
        ) is not None:
            return earlier
        bad: list[FieldViolation] = []
        if len(req.display_name) > 200:
            bad.append(FieldViolation("display_name", "at most 200 characters"))
        if len(req.description) > 10_000:
            bad.append(FieldViolation("description", "at most 10000 characters"))
        for i, name in enumerate(req.embedders):
            if name not in self.embedders:
                bad.append(
                    FieldViolation(
                        f"embedders[{i}]",
                        f"unknown embedder {name!r}; this deployment offers"
                        f" {sorted(self.embedders)}",
                    )
                )
            elif name in req.embedders[:i]:
                bad.append(FieldViolation(f"embedders[{i}]", f"{name!r} is listed twice"))
        if not 0 <= req.custom_vector_dim <= 8192:
            bad.append(FieldViolation("custom_vector_dim", "must be 0..8192"))
        threshold = req.near_duplicate_threshold or DEFAULT_THRESHOLD
        if not 0 < threshold <= 1:
            bad.append(FieldViolation("near_duplicate_threshold", "must be in (0, 1]"))
        if bad:
            raise InvalidArgument("dataset has invalid fields", bad)
        created = ev.DatasetCreated(
            dataset_id=req.dataset_id,
            display_name=req.display_name,
            description=req.description,
            embedders=req.embedders,
            custom_vector_dim=req.custom_vector_dim,
            auto_include=req.auto_include,
            near_duplicate_threshold=threshold,
        )
        now = self.clock()
        async with self.store.transaction() as conn:
            if await self.read_model.lock_dataset(conn, req.dataset_id) is not None:
                raise AlreadyExists(
                    f"dataset {req.dataset_id} exists",
                    reason="DATASET_EXISTS",
                    metadata={"dataset_id": req.dataset_id},
                )
            await self.read_model.insert_dataset(conn, created, now)
            response = pb.CreateDatasetResponse(dataset=dataset_from_event(created, now))
            result = await self.store.append(
                ev.stream_id(req.dataset_id),
                0,
                [NewEvent.of(created, occurred_at=now)],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=response.SerializeToString(),
                conn=conn,
            )
            if result.replayed:
                return self._replayed(
                    result.fingerprint or fp, result.response, fp, pb.CreateDatasetResponse
                )
        return response

    async def policy(self, dataset_id: str) -> DatasetPolicy:
        check_dataset_id(dataset_id)
        policy = await self.read_model.dataset_policy(dataset_id)
        if policy is None:
            raise NotFound(
                f"dataset {dataset_id} does not exist",
                reason="DATASET_NOT_FOUND",
                metadata={"dataset_id": dataset_id},
            )
        return policy

    # --- ingestion ----------------------------------------------------------------------------

    async def register_batch(
        self,
        dataset_id: str,
        import_id: str,
        specs: Sequence[pb.ItemSpec],
        *,
        offset: int = 0,
    ) -> BatchResult:
        """Validate, read, embed and commit one RegisterItems message (all or nothing).

        ``offset``: index of ``specs[0]`` in the whole import (for violation paths).
        """
        self._authorize()
        policy = await self.policy(dataset_id)
        if violations := validate_specs(specs, policy, offset=offset):
            raise InvalidArgument(
                f"{len(violations)} invalid field(s) in items[{offset}..{offset + len(specs) - 1}]",
                violations,
                metadata={"first_item": str(offset), "items_in_message": str(len(specs))},
            )
        known = await self.read_model.existing_by_external_id(
            self.read_model.pool, dataset_id, [s.external_id for s in specs]
        )
        new = [k for k, s in enumerate(specs) if s.external_id not in known]
        contents = await asyncio.to_thread(self._read_contents, specs, new, offset)
        vectors = await self._embed(policy, specs, new, contents, offset)
        now = self.clock()
        result = BatchResult(received=len(specs))
        async with self.store.transaction() as conn:
            policy = await self.read_model.lock_dataset(conn, dataset_id) or policy
            existing = await self.read_model.existing_by_external_id(
                conn, dataset_id, [s.external_id for s in specs]
            )
            bad: list[FieldViolation] = []
            for k, s in enumerate(specs):
                e = existing.get(s.external_id)
                if e is None:
                    continue
                checksum = contents[k].checksum if k in contents else s.checksum
                if (
                    e.uri != s.uri
                    or e.modality != s.modality
                    or (checksum and e.checksum and checksum != e.checksum)
                ):
                    bad.append(
                        FieldViolation(
                            f"items[{offset + k}].external_id",
                            f"{s.external_id!r} is registered already with other content"
                            f" (uri {e.uri!r}); register changed content under a new external id",
                        )
                    )
            if bad:
                raise InvalidArgument("items conflict with registered items", bad)
            todo = [k for k in range(len(specs)) if specs[k].external_id not in existing]
            result.already_registered = len(specs) - len(todo)
            checksums = sorted(
                {
                    c
                    for k in todo
                    if (c := (contents[k].checksum if k in contents else specs[k].checksum))
                }
            )
            first = await self.read_model.first_by_checksum(conn, dataset_id, checksums)
            registered: list[events_pb2.ItemRegistered] = []
            states: list[tuple[int, int, str]] = []
            dups: list[tuple[str, str]] = []
            auto: list[str] = []
            for k in todo:
                s = specs[k]
                c = contents.get(k, Content())
                item_id = item_id_for(dataset_id, s.external_id)
                checksum = c.checksum or s.checksum
                dup_of = first.get(checksum, "") if checksum else ""
                if checksum and not dup_of:
                    first[checksum] = item_id
                registered.append(
                    ev.ItemRegistered(
                        dataset_id=dataset_id,
                        item_id=item_id,
                        external_id=s.external_id,
                        uri=s.uri,
                        modality=s.modality,
                        size_bytes=s.size_bytes or c.size_bytes,
                        width=s.width or c.width,
                        height=s.height or c.height,
                        duration_ms=s.duration_ms,
                        checksum=checksum,
                        metadata=s.metadata,
                        text=s.text,
                        perceptual_hash=c.perceptual_hash,
                        exact_duplicate_of=dup_of,
                        import_id=import_id,
                    )
                )
                if dup_of:
                    dups.append((item_id, dup_of))
                    states.append(
                        (pb.CURATION_STATE_EXCLUDED, pb.CURATION_REASON_DUPLICATE, dup_of)
                    )
                elif policy.auto_include:
                    auto.append(item_id)
                    states.append((pb.CURATION_STATE_INCLUDED, pb.CURATION_REASON_AUTO, ""))
                else:
                    states.append((pb.CURATION_STATE_PENDING, 0, ""))
            events: list[Message] = list(registered)
            todo_set = set(todo)
            for space, (model_version, idx, vecs) in vectors.items():
                keep = [j for j, k in enumerate(idx) if k in todo_set]
                ids = [item_id_for(dataset_id, specs[idx[j]].external_id) for j in keep]
                vs = vecs[keep]
                events += [
                    ev.ItemEmbedded(
                        dataset_id=dataset_id,
                        item_id=i,
                        vector_space=space,
                        model_version=model_version,
                        vector=v.tolist(),
                    )
                    for i, v in zip(ids, vs, strict=True)
                ]
                vectors[space] = (model_version, [idx[j] for j in keep], vs)
            if dups:
                events.append(
                    ev.ItemsCurated(
                        dataset_id=dataset_id,
                        decision=pb.DECISION_EXCLUDE,
                        reason=pb.CURATION_REASON_DUPLICATE,
                        note="same checksum as an earlier item",
                        item_ids=[d[0] for d in dups],
                        duplicate_of=[d[1] for d in dups],
                    )
                )
            if auto:
                events.append(
                    ev.ItemsCurated(
                        dataset_id=dataset_id,
                        decision=pb.DECISION_INCLUDE,
                        reason=pb.CURATION_REASON_AUTO,
                        note="dataset includes new items automatically",
                        item_ids=auto,
                    )
                )
            if events:
                await self.store.append(
                    ev.stream_id(dataset_id),
                    None,
                    [NewEvent.of(e, occurred_at=now) for e in events],
                    conn=conn,
                )
                await self.read_model.insert_items(conn, registered, states, now)
                for space, (model_version, idx, vecs) in vectors.items():
                    ids = [item_id_for(dataset_id, specs[k].external_id) for k in idx]
                    await self.read_model.insert_vectors(
                        conn, dataset_id, space, model_version, ids, vecs
                    )
                    result.vectors_written += len(ids)
                await self.read_model.add_counts(
                    conn,
                    dataset_id,
                    {
                        0: len(registered),
                        pb.CURATION_STATE_EXCLUDED: len(dups),
                        pb.CURATION_STATE_INCLUDED: len(auto),
                        pb.CURATION_STATE_PENDING: len(registered) - len(dups) - len(auto),
                    },
                )
            result.registered = len(registered)
            result.exact_duplicates = len(dups)
            result.item_ids = [e.item_id for e in registered]
            await self.read_model.record_import(
                conn,
                pb.Import(
                    import_id=import_id,
                    dataset_id=dataset_id,
                    state=pb.IMPORT_STATE_RUNNING,
                    items_received=result.received,
                    items_registered=result.registered,
                    items_already_registered=result.already_registered,
                    exact_duplicates=result.exact_duplicates,
                    vectors_written=result.vectors_written,
                    messages_committed=1,
                ),
                now,
            )
        if self.indexer is not None and result.vectors_written:
            self.indexer.wake()
        return result

    def _read_contents(
        self, specs: Sequence[pb.ItemSpec], todo: Sequence[int], offset: int
    ) -> dict[int, Content]:
        out: dict[int, Content] = {}
        bad: list[FieldViolation] = []
        for k in todo:
            try:
                c = self.content.read(specs[k])
            except ContentError as exc:
                bad.append(FieldViolation(f"items[{offset + k}].{exc.field}", str(exc)))
                continue
            if c.data is not None:
                out[k] = c
        if bad:
            raise InvalidArgument(f"{len(bad)} item(s) failed content checks", bad)
        return out

    async def _embed(
        self,
        policy: DatasetPolicy,
        specs: Sequence[pb.ItemSpec],
        todo: Sequence[int],
        contents: Mapping[int, Content],
        offset: int,
    ) -> dict[str, tuple[str, list[int], np.ndarray]]:
        """Vectors of new items per space: (model version, spec indexes, vectors)."""
        out: dict[str, tuple[str, list[int], np.ndarray]] = {}
        custom = [k for k in todo if specs[k].embedding]
        if custom:
            vecs = l2_normalize(np.array([list(specs[k].embedding) for k in custom], np.float32))
            out[CUSTOM_SPACE] = ("caller-supplied", custom, vecs)
        for name in policy.embedders:
            embedder = self.embedders.get(name)
            if embedder is None:
                raise Unavailable(
                    f"embedder {name!r} of dataset {policy.dataset_id} is not configured in"
                    " this deployment",
                    reason="EMBEDDER_NOT_CONFIGURED",
                )
            needs_content = getattr(embedder, "needs_content", True)
            idx = [
                k
                for k in todo
                if MODALITY_NAMES[specs[k].modality] in embedder.modalities
                and (k in contents or not needs_content)
            ]
            if not idx:
                continue
            inputs = [
                EmbedInput(
                    item_id=item_id_for(policy.dataset_id, specs[k].external_id),
                    modality=MODALITY_NAMES[specs[k].modality],
                    uri=specs[k].uri,
                    content=contents[k].data if k in contents else None,
                    text=contents[k].text if k in contents else (specs[k].text or None),
                    metadata=dict(specs[k].metadata),
                )
                for k in idx
            ]
            try:
                vecs = await embedder.embed(inputs)
            except EmbeddingError as exc:
                if exc.index < 0:
                    raise Unavailable(
                        f"embedder {name!r} failed: {exc}", reason="EMBEDDER_UNAVAILABLE"
                    ) from exc
                k = idx[exc.index]
                raise InvalidArgument(
                    f"items[{offset + k}] cannot be embedded by {name}",
                    [FieldViolation(f"items[{offset + k}].uri", f"{name}: {exc}")],
                ) from exc
            out[name] = (embedder.model_version, idx, np.asarray(vecs, dtype=np.float32))
        return out

    async def finish_import(self, dataset_id: str, import_id: str, error: str = "") -> None:
        """Mark an import finished (or failed, with the error) and flush its vectors to Qdrant."""
        if self.indexer is not None and not error:
            await self.indexer.flush()
        await self.read_model.record_import(
            self.read_model.pool,
            pb.Import(
                import_id=import_id,
                dataset_id=dataset_id,
                state=pb.IMPORT_STATE_FAILED if error else pb.IMPORT_STATE_SUCCEEDED,
                error=error[:2000],
            ),
            self.clock(),
        )

    # --- decisions ----------------------------------------------------------------------------

    async def curate_items(self, req: pb.CurateItemsRequest) -> pb.CurateItemsResponse:
        self._authorize()
        check_dataset_id(req.dataset_id)
        fp = request_fingerprint("CurateItems", req.SerializeToString(deterministic=True))
        if (earlier := await self._earlier(req.request_id, fp, pb.CurateItemsResponse)) is not None:
            return earlier
        bad: list[FieldViolation] = []
        if req.decision not in (pb.DECISION_INCLUDE, pb.DECISION_EXCLUDE):
            bad.append(FieldViolation("decision", "must be DECISION_INCLUDE or DECISION_EXCLUDE"))
        reason = req.reason or pb.CURATION_REASON_MANUAL
        allowed = INCLUDE_REASONS if req.decision == pb.DECISION_INCLUDE else EXCLUDE_REASONS
        if req.decision and reason not in allowed:
            name = (
                pb.CurationReason.Name(reason) if reason in pb.CurationReason.values() else reason
            )
            bad.append(
                FieldViolation(
                    "reason", f"{name} does not go with {pb.Decision.Name(req.decision)}"
                )
            )
        if not req.item_ids:
            bad.append(FieldViolation("item_ids", "name at least one item"))
        if len(req.item_ids) > MAX_CURATE_ITEMS:
            bad.append(FieldViolation("item_ids", f"at most {MAX_CURATE_ITEMS} per request"))
        if len(req.note) > 2000:
            bad.append(FieldViolation("note", "at most 2000 characters"))
        bad += _uuid_violations("item_ids", req.item_ids)
        if bad:
            raise InvalidArgument("curation request has invalid fields", bad)
        await self.policy(req.dataset_id)
        ids = list(dict.fromkeys(req.item_ids))
        state = (
            pb.CURATION_STATE_INCLUDED
            if req.decision == pb.DECISION_INCLUDE
            else pb.CURATION_STATE_EXCLUDED
        )
        now = self.clock()
        async with self.store.transaction() as conn:
            await self.read_model.lock_dataset(conn, req.dataset_id)
            current = await self.read_model.item_states(conn, req.dataset_id, ids)
            missing = [i for i in ids if i not in current]
            if missing:
                raise NotFound(
                    f"{len(missing)} item(s) are not in dataset {req.dataset_id}: {missing[:5]}",
                    reason="ITEM_NOT_FOUND",
                    metadata={"dataset_id": req.dataset_id, "item_id": missing[0]},
                )
            changed = [i for i in ids if (current[i].state, current[i].reason) != (state, reason)]
            response = pb.CurateItemsResponse(
                changed=len(changed), unchanged=len(ids) - len(changed)
            )
            if not changed:
                return response
            events = [
                ev.ItemsCurated(
                    dataset_id=req.dataset_id,
                    decision=req.decision,
                    reason=reason,
                    note=req.note,
                    item_ids=changed[i : i + IDS_PER_EVENT],
                )
                for i in range(0, len(changed), IDS_PER_EVENT)
            ]
            new_events = [NewEvent.of(e, occurred_at=now) for e in events]
            response.event_ids.extend(str(e.event_id) for e in new_events)
            result = await self.store.append(
                ev.stream_id(req.dataset_id),
                None,
                new_events,
                request_id=req.request_id or None,
                fingerprint=fp,
                response=response.SerializeToString(),
                conn=conn,
            )
            if result.replayed:
                return self._replayed(
                    result.fingerprint or fp, result.response, fp, pb.CurateItemsResponse
                )
            await self._apply_curation(
                conn, req.dataset_id, changed, current, state, reason, req.note, None, now
            )
        return response

    async def _apply_curation(
        self,
        conn: object,
        dataset_id: str,
        ids: Sequence[str],
        current: Mapping[str, object],
        state: int,
        reason: int,
        note: str,
        duplicate_of: Sequence[str] | None,
        now: datetime,
    ) -> None:
        await self.read_model.set_states(
            conn, dataset_id, ids, state, reason, note, duplicate_of, now
        )  # type: ignore[arg-type]
        deltas: dict[int, int] = {state: 0}
        for i in ids:
            old = current[i].state  # type: ignore[attr-defined]
            if old != state:
                deltas[old] = deltas.get(old, 0) - 1
                deltas[state] += 1
        await self.read_model.add_counts(conn, dataset_id, deltas)  # type: ignore[arg-type]

    # --- duplicates and coverage ---------------------------------------------------------------

    async def resolve_space(
        self, policy: DatasetPolicy, requested: str, field_name: str = "vector_space"
    ) -> str:
        spaces = await self.read_model.vector_spaces(policy.dataset_id)
        if requested:
            if not VECTOR_SPACE_RE.match(requested) or (
                requested not in spaces
                and requested not in policy.embedders
                and requested != CUSTOM_SPACE
            ):
                raise InvalidArgument(
                    f"dataset {policy.dataset_id} has no vector space {requested!r}",
                    [
                        FieldViolation(
                            field_name, f"use one of {sorted(set(spaces) | set(policy.embedders))}"
                        )
                    ],
                )
            return requested
        for name in (*policy.embedders, CUSTOM_SPACE):
            if name in spaces:
                return name
        raise no_vectors(policy.dataset_id)

    async def find_duplicates(self, req: pb.FindDuplicatesRequest) -> pb.FindDuplicatesResponse:
        if req.exclude_duplicates:
            self._authorize()
        policy = await self.policy(req.dataset_id)
        fp = request_fingerprint("FindDuplicates", req.SerializeToString(deterministic=True))
        if (
            earlier := await self._earlier(req.request_id, fp, pb.FindDuplicatesResponse)
        ) is not None:
            return earlier
        bad: list[FieldViolation] = []
        threshold = req.threshold or policy.near_duplicate_threshold
        if not 0 < threshold <= 1:
            bad.append(FieldViolation("threshold", "must be in (0, 1]"))
        if not 0 <= req.max_groups <= 10_000:
            bad.append(FieldViolation("max_groups", "must be 0..10000"))
        if bad:
            raise InvalidArgument("FindDuplicates has invalid fields", bad)
        space = await self.resolve_space(policy, req.vector_space)
        run_id = new_id()
        now = self.clock()
        async with self.store.transaction() as conn:
            await self.read_model.lock_dataset(conn, req.dataset_id)
            vs = await self.read_model.load_vectors(
                conn, req.dataset_id, space, include_excluded=False
            )
            # Representative: included first, then most pixels, most bytes, earliest registered.
            order = np.lexsort(
                (-vs.seqs, vs.sizes, vs.pixels, vs.states == pb.CURATION_STATE_INCLUDED)
            )
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            groups = await asyncio.to_thread(
                find_near_duplicates, vs.vectors, float(threshold), preference=rank
            )
            pgroups = [
                pb.DuplicateGroup(
                    representative_item_id=vs.item_ids[g.representative],
                    item_ids=[vs.item_ids[m] for m in g.members],
                    min_similarity=float(g.min_similarity),
                )
                for g in groups
            ]
            parts = max(1, -(-len(pgroups) // GROUPS_PER_EVENT))
            events: list[Message] = [
                ev.DuplicatesFound(
                    dataset_id=req.dataset_id,
                    run_id=run_id,
                    vector_space=space,
                    threshold=threshold,
                    items_scanned=len(vs.item_ids),
                    groups=pgroups[p * GROUPS_PER_EVENT : (p + 1) * GROUPS_PER_EVENT],
                    part=p + 1,
                    parts=parts,
                )
                for p in range(parts)
            ]
            to_exclude: list[tuple[str, str]] = []
            if req.exclude_duplicates:
                to_exclude = [
                    (m, g.representative_item_id)
                    for g in pgroups
                    for m in g.item_ids
                    if m != g.representative_item_id
                ]
                for i in range(0, len(to_exclude), IDS_PER_EVENT):
                    chunk = to_exclude[i : i + IDS_PER_EVENT]
                    events.append(
                        ev.ItemsCurated(
                            dataset_id=req.dataset_id,
                            decision=pb.DECISION_EXCLUDE,
                            reason=pb.CURATION_REASON_NEAR_DUPLICATE,
                            note=f"near duplicate (cosine >= {threshold:g} in {space})",
                            item_ids=[c[0] for c in chunk],
                            run_id=run_id,
                            duplicate_of=[c[1] for c in chunk],
                        )
                    )
            limit = req.max_groups or 100
            response = pb.FindDuplicatesResponse(
                run_id=run_id,
                vector_space=space,
                threshold=threshold,
                items_scanned=len(vs.item_ids),
                group_count=len(pgroups),
                duplicate_count=sum(len(g.item_ids) - 1 for g in pgroups),
                groups=pgroups[:limit],
                items_excluded=len(to_exclude),
            )
            result = await self.store.append(
                ev.stream_id(req.dataset_id),
                None,
                [NewEvent.of(e, occurred_at=now) for e in events],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=response.SerializeToString(),
                conn=conn,
            )
            if result.replayed:
                return self._replayed(
                    result.fingerprint or fp, result.response, fp, pb.FindDuplicatesResponse
                )
            if to_exclude:
                ids = [c[0] for c in to_exclude]
                current = await self.read_model.item_states(conn, req.dataset_id, ids)
                await self._apply_curation(
                    conn,
                    req.dataset_id,
                    ids,
                    current,
                    pb.CURATION_STATE_EXCLUDED,
                    pb.CURATION_REASON_NEAR_DUPLICATE,
                    f"near duplicate (cosine >= {threshold:g} in {space})",
                    [c[1] for c in to_exclude],
                    now,
                )
        return response

    async def analyze_coverage(self, req: pb.AnalyzeCoverageRequest) -> pb.AnalyzeCoverageResponse:
        if req.include_edge_cases:
            self._authorize()
        policy = await self.policy(req.dataset_id)
        fp = request_fingerprint("AnalyzeCoverage", req.SerializeToString(deterministic=True))
        if (
            earlier := await self._earlier(req.request_id, fp, pb.AnalyzeCoverageResponse)
        ) is not None:
            return earlier
        bad: list[FieldViolation] = []
        if not 0 <= req.n_clusters <= 1000:
            bad.append(FieldViolation("n_clusters", "must be 0..1000 (0 = automatic)"))
        if not 0 <= req.rare_share < 1:
            bad.append(FieldViolation("rare_share", "must be in [0, 1)"))
        if not 0 <= req.samples_per_cluster <= 100:
            bad.append(FieldViolation("samples_per_cluster", "must be 0..100"))
        if bad:
            raise InvalidArgument("AnalyzeCoverage has invalid fields", bad)
        space = await self.resolve_space(policy, req.vector_space)
        run_id = new_id()
        now = self.clock()
        async with self.store.transaction() as conn:
            await self.read_model.lock_dataset(conn, req.dataset_id)
            vs = await self.read_model.load_vectors(
                conn, req.dataset_id, space, include_excluded=req.include_excluded
            )
            # Imported here: scikit-learn takes a while to import and only this command needs it.
            from ..domain.coverage import analyze_coverage

            report = await asyncio.to_thread(
                analyze_coverage,
                vs.vectors,
                n_clusters=req.n_clusters or None,
                rare_share=req.rare_share or 0.02,
                max_samples_per_cluster=req.samples_per_cluster or 5,
            )
            clusters = [
                pb.Cluster(
                    cluster_id=c.cluster_id,
                    size=c.size,
                    share=c.share,
                    medoid_item_id=vs.item_ids[c.medoid],
                    sample_item_ids=[vs.item_ids[m] for m in c.samples],
                    cohesion=c.cohesion,
                    rare=c.is_rare,
                )
                for c in report.clusters
            ]
            edge_ids = [vs.item_ids[i] for i in report.edge_cases]
            include: list[str] = []
            if req.include_edge_cases:
                pending = vs.states == pb.CURATION_STATE_PENDING
                include = [vs.item_ids[i] for i in report.edge_cases if pending[i]]
            event_clusters = []
            for c in clusters:
                ec = pb.Cluster()
                ec.CopyFrom(c)
                del ec.sample_item_ids[:]
                event_clusters.append(ec)
            events: list[Message] = [
                ev.CoverageAnalyzed(
                    dataset_id=req.dataset_id,
                    run_id=run_id,
                    vector_space=space,
                    items_analyzed=len(vs.item_ids),
                    clusters=event_clusters,
                    balance=report.balance,
                    edge_case_item_ids=edge_ids[:IDS_PER_EVENT],
                )
            ]
            for i in range(0, len(include), IDS_PER_EVENT):
                events.append(
                    ev.ItemsCurated(
                        dataset_id=req.dataset_id,
                        decision=pb.DECISION_INCLUDE,
                        reason=pb.CURATION_REASON_EDGE_CASE,
                        note="rare cluster or outlier (AnalyzeCoverage)",
                        item_ids=include[i : i + IDS_PER_EVENT],
                        run_id=run_id,
                    )
                )
            response = pb.AnalyzeCoverageResponse(
                run_id=run_id,
                vector_space=space,
                items_analyzed=len(vs.item_ids),
                clusters=clusters,
                balance=report.balance,
                edge_case_item_ids=edge_ids,
                items_included=len(include),
            )
            result = await self.store.append(
                ev.stream_id(req.dataset_id),
                None,
                [NewEvent.of(e, occurred_at=now) for e in events],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=response.SerializeToString(),
                conn=conn,
            )
            if result.replayed:
                return self._replayed(
                    result.fingerprint or fp, result.response, fp, pb.AnalyzeCoverageResponse
                )
            if include:
                current = await self.read_model.item_states(conn, req.dataset_id, include)
                await self._apply_curation(
                    conn,
                    req.dataset_id,
                    include,
                    current,
                    pb.CURATION_STATE_INCLUDED,
                    pb.CURATION_REASON_EDGE_CASE,
                    "rare cluster or outlier (AnalyzeCoverage)",
                    None,
                    now,
                )
        return response

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _authorize() -> None:
        principal = current_principal()
        if principal is not None and principal.kind not in WRITER_KINDS:
            raise PermissionDenied(
                f"{principal.kind} credentials may not change curation data",
                reason="CURATION_WRITE_DENIED",
                metadata={"kind": principal.kind},
            )

    async def _earlier(self, request_id: str, fingerprint: str, response_type: type[R]) -> R | None:
        return await self.store.earlier_response(
            request_id, fingerprint, response_type, max_chars=MAX_REQUEST_ID_CHARS
        )

    @staticmethod
    def _replayed(
        stored_fp: str, stored: bytes | None, fingerprint: str, response_type: type[R]
    ) -> R:
        if stored_fp != fingerprint:
            raise InvalidArgument(
                "request_id was already used for a different request; use a new request_id",
                [FieldViolation("request_id", "reused with different content")],
                reason="REQUEST_ID_REUSED",
            )
        return response_type.FromString(stored or b"")


def no_vectors(dataset_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"dataset {dataset_id} has no vectors yet: register items with content an embedder"
        " can read, or with caller-supplied vectors",
        reason="NO_VECTORS",
        metadata={"dataset_id": dataset_id},
    )


def dataset_from_event(e: events_pb2.DatasetCreated, at: datetime) -> pb.Dataset:
    d = pb.Dataset(
        name=f"datasets/{e.dataset_id}",
        dataset_id=e.dataset_id,
        display_name=e.display_name,
        description=e.description,
        embedders=e.embedders,
        custom_vector_dim=e.custom_vector_dim,
        auto_include=e.auto_include,
        near_duplicate_threshold=e.near_duplicate_threshold,
        counts=pb.ItemCounts(),
    )
    d.create_time.FromDatetime(at)
    return d


def _uuid_violations(field_name: str, values: Sequence[str]) -> list[FieldViolation]:
    import uuid

    bad = []
    for i, v in enumerate(values):
        try:
            uuid.UUID(v)
        except ValueError:
            bad.append(FieldViolation(f"{field_name}[{i}]", f"{v[:60]!r} is not an item id (UUID)"))
            if len(bad) >= 20:
                break
    return bad

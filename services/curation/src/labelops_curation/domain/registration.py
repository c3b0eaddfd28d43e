"""What registering one RegisterItems message decides, given what is stored (pure).

The handler reads content and computes vectors outside any lock, then, under the dataset's row
lock, reads the items registered already and the first item of each checksum, and asks this
module what to record:

- a re-registration (same external id) with other content is refused (``check_re_registrations``);
- a new item whose checksum an earlier item has is an exact duplicate: registered, excluded
  (``DUPLICATE``, ``duplicate_of`` the earliest), its vectors kept;
- otherwise it is included at once when the dataset auto-includes (``AUTO``), else pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.context import DEFAULT_TENANT
from labelops_core.errors import FieldViolation, InvalidArgument

from .decisions import curated_events
from .embedding import Embedder, EmbedInput, l2_normalize
from .items import CUSTOM_SPACE, MODALITY_NAMES, DatasetPolicy, item_id_for, validate_specs

#: Vectors of new items per vector space: (model version, spec indexes, rows).
Vectors = dict[str, tuple[str, list[int], np.ndarray]]


@dataclass(frozen=True)
class Content:
    """What the service learned by reading an item (adapters/content.py reads it)."""

    data: bytes | None = None
    text: str | None = None
    checksum: str = ""
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    perceptual_hash: str = ""


@dataclass(frozen=True)
class ExistingItem:
    """An item registered already under an external id of the message."""

    item_id: str
    external_id: str
    uri: str
    modality: int
    checksum: str


@dataclass
class Registration:
    """What one message registers (nothing when every item was registered before)."""

    #: The new items, in message order, and their (state, reason, duplicate_of).
    registered: list[events_pb2.ItemRegistered] = field(default_factory=list)
    states: list[tuple[int, int, str]] = field(default_factory=list)
    #: (item, earliest item with its checksum) per exact duplicate.
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    auto_included: list[str] = field(default_factory=list)
    #: Vectors of the new items per space: (model version, item ids, rows).
    vectors: dict[str, tuple[str, list[str], np.ndarray]] = field(default_factory=dict)
    #: ItemRegistered, then ItemEmbedded, then ItemsCurated (duplicates, auto-included).
    events: list[Message] = field(default_factory=list)

    @property
    def counts(self) -> dict[int, int]:
        """Changes of the dataset's counters (key 0: the total)."""
        new, dups, auto = len(self.registered), len(self.duplicates), len(self.auto_included)
        return {
            0: new,
            pb.CURATION_STATE_EXCLUDED: dups,
            pb.CURATION_STATE_INCLUDED: auto,
            pb.CURATION_STATE_PENDING: new - dups - auto,
        }

    @property
    def vectors_written(self) -> int:
        return sum(len(ids) for _, ids, _ in self.vectors.values())


def check_specs(specs: Sequence[pb.ItemSpec], policy: DatasetPolicy, offset: int) -> None:
    """INVALID_ARGUMENT with every bad field of the message (``items[offset + k]...``)."""
    if violations := validate_specs(specs, policy, offset=offset):
        raise InvalidArgument(
            f"{len(violations)} invalid field(s) in items[{offset}..{offset + len(specs) - 1}]",
            violations,
            metadata={"first_item": str(offset), "items_in_message": str(len(specs))},
        )


def checksum_of(spec: pb.ItemSpec, content: Content | None) -> str:
    """The item's checksum: of the bytes read (verified against a given one), else as given."""
    return (content.checksum if content is not None else "") or spec.checksum


def check_re_registrations(
    specs: Sequence[pb.ItemSpec],
    contents: Mapping[int, Content],
    existing: Mapping[str, ExistingItem],
    offset: int,
) -> None:
    """INVALID_ARGUMENT on ``items[i].external_id`` for each item registered already with
    another URI, modality or checksum (changed content needs a new external id)."""
    bad: list[FieldViolation] = []
    for k, s in enumerate(specs):
        e = existing.get(s.external_id)
        if e is None:
            continue
        checksum = checksum_of(s, contents.get(k))
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


def new_checksums(
    specs: Sequence[pb.ItemSpec], contents: Mapping[int, Content], todo: Sequence[int]
) -> list[str]:
    """The distinct checksums of the new items, sorted (to look up their earliest items)."""
    return sorted({c for k in todo if (c := checksum_of(specs[k], contents.get(k)))})


def register(
    policy: DatasetPolicy,
    import_id: str,
    specs: Sequence[pb.ItemSpec],
    contents: Mapping[int, Content],
    todo: Sequence[int],
    first_by_checksum: Mapping[str, str],
    vectors: Vectors,
) -> Registration:
    """The registration of the new items ``todo`` (spec indexes, in message order).

    ``first_by_checksum``: checksum → earliest registered item with it. A checksum repeated
    within the message makes its later items duplicates of the first.
    """
    dataset_id = policy.dataset_id
    out = Registration()
    first = dict(first_by_checksum)
    for k in todo:
        s = specs[k]
        c = contents.get(k, Content())
        item_id = item_id_for(dataset_id, s.external_id, policy.tenant_id)
        checksum = c.checksum or s.checksum
        dup_of = first.get(checksum, "") if checksum else ""
        if checksum and not dup_of:
            first[checksum] = item_id
        out.registered.append(_registered(dataset_id, import_id, item_id, s, c, checksum, dup_of))
        if dup_of:
            out.duplicates.append((item_id, dup_of))
            out.states.append((pb.CURATION_STATE_EXCLUDED, pb.CURATION_REASON_DUPLICATE, dup_of))
        elif policy.auto_include:
            out.auto_included.append(item_id)
            out.states.append((pb.CURATION_STATE_INCLUDED, pb.CURATION_REASON_AUTO, ""))
        else:
            out.states.append((pb.CURATION_STATE_PENDING, 0, ""))
    out.events = list(out.registered)
    todo_set = set(todo)
    for space, (model_version, idx, vecs) in vectors.items():
        keep = [j for j, k in enumerate(idx) if k in todo_set]
        ids = [item_id_for(dataset_id, specs[idx[j]].external_id, policy.tenant_id) for j in keep]
        rows = vecs[keep]
        out.events += [
            events_pb2.ItemEmbedded(
                dataset_id=dataset_id,
                item_id=i,
                vector_space=space,
                model_version=model_version,
                vector=v.tolist(),
            )
            for i, v in zip(ids, rows, strict=True)
        ]
        out.vectors[space] = (model_version, ids, rows)
    out.events += curated_events(
        dataset_id,
        pb.DECISION_EXCLUDE,
        pb.CURATION_REASON_DUPLICATE,
        "same checksum as an earlier item",
        [d[0] for d in out.duplicates],
        duplicate_of=[d[1] for d in out.duplicates],
    )
    out.events += curated_events(
        dataset_id,
        pb.DECISION_INCLUDE,
        pb.CURATION_REASON_AUTO,
        "dataset includes new items automatically",
        out.auto_included,
    )
    return out


def _registered(
    dataset_id: str,
    import_id: str,
    item_id: str,
    s: pb.ItemSpec,
    c: Content,
    checksum: str,
    dup_of: str,
) -> events_pb2.ItemRegistered:
    return events_pb2.ItemRegistered(
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


# --- what is embedded -------------------------------------------------------------------------


def custom_vectors(specs: Sequence[pb.ItemSpec], todo: Sequence[int]) -> Vectors:
    """Caller-supplied vectors of the new items (space ``custom``), normalized."""
    custom = [k for k in todo if specs[k].embedding]
    if not custom:
        return {}
    vecs = l2_normalize(np.array([list(specs[k].embedding) for k in custom], np.float32))
    return {CUSTOM_SPACE: ("caller-supplied", custom, vecs)}


def embedding_inputs(
    dataset_id: str,
    embedder: Embedder,
    specs: Sequence[pb.ItemSpec],
    todo: Sequence[int],
    contents: Mapping[int, Content],
    tenant_id: str = DEFAULT_TENANT,
) -> tuple[list[int], list[EmbedInput]]:
    """The new items ``embedder`` embeds (its modalities; read content unless it fetches URIs
    itself: ``needs_content`` False) and its inputs, as (spec indexes, inputs); ``tenant_id``:
    the dataset's (item ids depend on it)."""
    needs_content = getattr(embedder, "needs_content", True)
    idx = [
        k
        for k in todo
        if MODALITY_NAMES[specs[k].modality] in embedder.modalities
        and (k in contents or not needs_content)
    ]
    inputs = [
        EmbedInput(
            item_id=item_id_for(dataset_id, specs[k].external_id, tenant_id),
            modality=MODALITY_NAMES[specs[k].modality],
            uri=specs[k].uri,
            content=contents[k].data if k in contents else None,
            text=contents[k].text if k in contents else (specs[k].text or None),
            metadata=dict(specs[k].metadata),
        )
        for k in idx
    ]
    return idx, inputs

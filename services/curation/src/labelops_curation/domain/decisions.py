"""Include / exclude decisions: which items change, the events that record it, and what it
does to a dataset's counters (pure).

Every command that curates items (CurateItems, FindDuplicates with ``exclude_duplicates``,
AnalyzeCoverage with ``include_edge_cases``, registration of duplicates and auto-included
items) records its decisions as ``ItemsCurated`` events built here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound

from .items import EXCLUDE_REASONS, INCLUDE_REASONS

MAX_CURATE_ITEMS: Final = 10_000
MAX_NOTE_CHARS: Final = 2000
#: Item ids per ItemsCurated event (an id is 36 characters: well below the 1 MB event limit).
IDS_PER_EVENT: Final = 5_000
#: Bad item ids reported at most in one INVALID_ARGUMENT.
MAX_ID_VIOLATIONS: Final = 20


@dataclass(frozen=True)
class ItemState:
    """An item's current curation state (read under the dataset's row lock)."""

    item_id: str
    state: int
    reason: int
    seq: int


def state_of(decision: int) -> int:
    """The curation state a decision puts items in."""
    return (
        pb.CURATION_STATE_INCLUDED
        if decision == pb.DECISION_INCLUDE
        else pb.CURATION_STATE_EXCLUDED
    )


def check_curate_request(req: pb.CurateItemsRequest) -> int:
    """The reason CurateItems records (``MANUAL`` when none is given), or INVALID_ARGUMENT
    naming every bad field."""
    bad: list[FieldViolation] = []
    if req.decision not in (pb.DECISION_INCLUDE, pb.DECISION_EXCLUDE):
        bad.append(FieldViolation("decision", "must be DECISION_INCLUDE or DECISION_EXCLUDE"))
    reason = req.reason or pb.CURATION_REASON_MANUAL
    allowed = INCLUDE_REASONS if req.decision == pb.DECISION_INCLUDE else EXCLUDE_REASONS
    if req.decision and reason not in allowed:
        name = pb.CurationReason.Name(reason) if reason in pb.CurationReason.values() else reason
        bad.append(
            FieldViolation("reason", f"{name} does not go with {pb.Decision.Name(req.decision)}")
        )
    if not req.item_ids:
        bad.append(FieldViolation("item_ids", "name at least one item"))
    if len(req.item_ids) > MAX_CURATE_ITEMS:
        bad.append(FieldViolation("item_ids", f"at most {MAX_CURATE_ITEMS} per request"))
    if len(req.note) > MAX_NOTE_CHARS:
        bad.append(FieldViolation("note", "at most 2000 characters"))
    bad += uuid_violations("item_ids", req.item_ids)
    if bad:
        raise InvalidArgument("curation request has invalid fields", bad)
    return reason


def uuid_violations(field_name: str, values: Sequence[str]) -> list[FieldViolation]:
    """One violation per value that is not a UUID (at most ``MAX_ID_VIOLATIONS``)."""
    bad = []
    for i, v in enumerate(values):
        try:
            uuid.UUID(v)
        except ValueError:
            bad.append(FieldViolation(f"{field_name}[{i}]", f"{v[:60]!r} is not an item id (UUID)"))
            if len(bad) >= MAX_ID_VIOLATIONS:
                break
    return bad


def changed_items(
    dataset_id: str,
    ids: Sequence[str],
    current: Mapping[str, ItemState],
    state: int,
    reason: int,
) -> list[str]:
    """The items of ``ids`` whose (state, reason) a decision changes, in request order.

    Raises NOT_FOUND ``ITEM_NOT_FOUND`` when any item is not in the dataset (nothing changes).
    """
    missing = [i for i in ids if i not in current]
    if missing:
        raise NotFound(
            f"{len(missing)} item(s) are not in dataset {dataset_id}: {missing[:5]}",
            reason="ITEM_NOT_FOUND",
            metadata={"dataset_id": dataset_id, "item_id": missing[0]},
        )
    return [i for i in ids if (current[i].state, current[i].reason) != (state, reason)]


def curated_events(
    dataset_id: str,
    decision: int,
    reason: int,
    note: str,
    item_ids: Sequence[str],
    *,
    run_id: str = "",
    duplicate_of: Sequence[str] | None = None,
) -> list[events_pb2.ItemsCurated]:
    """``ItemsCurated`` events for one decision about ``item_ids``, ``IDS_PER_EVENT`` ids each
    (``duplicate_of``: the kept item per excluded one, same order)."""
    return [
        events_pb2.ItemsCurated(
            dataset_id=dataset_id,
            decision=decision,  # type: ignore[arg-type]
            reason=reason,  # type: ignore[arg-type]
            note=note,
            item_ids=item_ids[i : i + IDS_PER_EVENT],
            run_id=run_id,
            duplicate_of=duplicate_of[i : i + IDS_PER_EVENT] if duplicate_of else (),
        )
        for i in range(0, len(item_ids), IDS_PER_EVENT)
    ]


def state_deltas(
    ids: Iterable[str], current: Mapping[str, ItemState], state: int
) -> dict[int, int]:
    """Per-state changes of a dataset's counters when ``ids`` move to ``state``."""
    deltas: dict[int, int] = {state: 0}
    for i in ids:
        old = current[i].state
        if old != state:
            deltas[old] = deltas.get(old, 0) - 1
            deltas[state] += 1
    return deltas

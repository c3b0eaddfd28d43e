"""Which segment files a version is made of, and what each one's bytes depend on (pure).

A version's rows are grouped into *segments*: fixed spans of offsets per partition
(``segment_span``). A task's row in the version is its latest ``LabelAccepted`` below the cut,
i.e. the row whose successor is at or above it; the set of rows of a segment is therefore fixed
by (segment, end of the cut inside it, the rows of the segment superseded below the cut) — which
is all a segment's *fingerprint* hashes, together with the filter, the target ontology version,
the schema version and the writer. A segment whose fingerprint was built before reuses its file.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelops_datasets.domain.manifest import canonical
from labelops_datasets.domain.materialize import FileEntry, segment_format
from labelops_datasets.domain.rows import SCHEMA_VERSION

#: Bumped when the fingerprint's inputs or the segment layout change meaning. 2: migrated
#: labels are fitted to the target version's definition (``pruning``), whose sha256 is hashed.
FINGERPRINT_VERSION = 2


@dataclass(frozen=True)
class Segment:
    """One segment of a version: the offsets [lo, end) of a partition it takes rows from."""

    partition: int
    segment: int
    lo: int
    end: int  # exclusive, already clipped to the cut
    cut_end: int  # the cut of the partition (rows superseded at or above it are valid)
    excluded: tuple[int, ...]
    fingerprint: str


def plan_segments(
    present: Iterable[tuple[int, int]],
    superseded: Mapping[int, Sequence[int]],
    cut: Mapping[int, int],
    *,
    span: int,
    project_id: str,
    topic: str,
    filter_json: Mapping[str, Any],
    ontology: tuple[str, str],
    target_definition: str = "",
) -> list[Segment]:
    """The version's segments, in (partition, segment) order.

    ``target_definition``: the sha256 of the target version's stored definition ("" when not
    known), what migrated labels are fitted to.

    ``present``: the (partition, segment)s holding the project's labels, in order;
    ``superseded``: per partition of the cut, the offsets of the project's rows superseded
    below the cut (ascending). Segments at or above the cut are left out.
    """
    excluded: dict[tuple[int, int], list[int]] = defaultdict(list)
    for p, offsets in superseded.items():
        for o in offsets:
            excluded[(p, o // span)].append(o)
    common = {
        "v": FINGERPRINT_VERSION,
        "schema_version": SCHEMA_VERSION,
        # pyarrow version, writer settings, row groups, row schema and stats layout.
        "format": segment_format(),
        "project_id": project_id,
        "topic": topic,
        "span": span,
        "filter": dict(filter_json),
        "ontology": list(ontology),
        "target_definition": target_definition,
    }
    out = []
    for p, s in present:
        cut_end = cut.get(p, 0)
        lo = s * span
        if lo >= cut_end:
            continue
        end = min(lo + span, cut_end)
        ex = tuple(excluded.get((p, s), ()))
        fingerprint = hashlib.sha256(
            canonical({**common, "partition": p, "segment": s, "end": end, "excluded": ex})
        ).hexdigest()
        out.append(Segment(p, s, lo, end, cut_end, ex, fingerprint))
    return out


def cut_json(cut: Mapping[int, int], topic: str) -> list[dict[str, Any]]:
    """The cut as the manifest records it: [{topic, partition, offset}] by partition."""
    return [{"topic": topic, "partition": p, "offset": o} for p, o in sorted(cut.items())]


def manifest_extra(
    segments: Sequence[Segment],
    entries: Sequence[FileEntry],
    *,
    topic: str,
    span: int,
    project_id: str,
) -> dict[str, Any]:
    """The manifest's ``extra``: the log coordinates of the segments that hold rows."""
    return {
        "segments": [
            {"topic": topic, "partition": s.partition, "segment": s.segment}
            for s, e in zip(segments, entries, strict=True)
            if e.rows
        ],
        "segment_span": span,
        "project_id": project_id,
    }

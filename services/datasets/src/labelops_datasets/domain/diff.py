"""Diff of two versions and the blame of each change (pure).

Labels are matched per task (``diff_tables``); the blame of a change is every ``LabelAccepted``
of its task between the two cuts (``blame``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
from google.protobuf.timestamp_pb2 import Timestamp
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as qev

from labelops_datasets.domain.filters import CONSENSUS_METHODS, REVIEW_DECISIONS

#: Columns a diff compares: the label itself (class, geometry, answers, attributes: all in the
#: serialized label, after migration), its relations, its split and its item's URI. The
#: geometry columns are derived from the label, so they are not compared again.
_DIFF_COLUMNS = ("split", "item_uri", "label_proto", "relations")


def diff_tables(a: pa.Table, b: pa.Table) -> tuple[list[pb.LabelChange], pb.DiffSummary]:
    """Label-level changes from ``a`` to ``b``, ordered by (item, task, label).

    Labels are matched per task: by label id first; a task's labels left over on both sides
    (a re-label whose consensus produced new label ids) are paired in (class, label id) order
    and reported as changed (``label_id`` among the changed fields); the rest are added or
    removed.
    """
    cols = ["item_id", "task_id", "label_id", "label_event_id", "class_id", *_DIFF_COLUMNS]

    def by_task(t: pa.Table) -> dict[str, dict[str, dict[str, Any]]]:
        data = t.select(cols).to_pydict()
        out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for i in range(t.num_rows):
            out[data["task_id"][i]][data["label_id"][i]] = {c: data[c][i] for c in cols}
        return out

    ta, tb = by_task(a), by_task(b)
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    for task in ta.keys() | tb.keys():
        la, lb = ta.get(task, {}), tb.get(task, {})
        pairs.extend((la[k], lb[k]) for k in la.keys() & lb.keys())
        rest_a = sorted((la[k] for k in la.keys() - lb.keys()), key=_label_order)
        rest_b = sorted((lb[k] for k in lb.keys() - la.keys()), key=_label_order)
        n = min(len(rest_a), len(rest_b))
        pairs.extend(zip(rest_a[:n], rest_b[:n], strict=True))
        pairs.extend((r, None) for r in rest_a[n:])
        pairs.extend((None, r) for r in rest_b[n:])

    def order(pair: tuple[dict[str, Any] | None, dict[str, Any] | None]) -> tuple[str, ...]:
        row = pair[1] or pair[0]
        assert row is not None
        return (row["item_id"], row["task_id"], row["label_id"], (pair[0] or row)["label_id"])

    changes: list[pb.LabelChange] = []
    summary = pb.DiffSummary()
    for ra, rb in sorted(pairs, key=order):
        if ra is not None and rb is not None:
            fields = _changed_fields(ra, rb)
            if not fields:
                summary.unchanged += 1
                continue
            summary.changed += 1
            kind = pb.CHANGE_KIND_CHANGED
        elif rb is not None:
            summary.added += 1
            kind, fields = pb.CHANGE_KIND_ADDED, []
        else:
            summary.removed += 1
            kind, fields = pb.CHANGE_KIND_REMOVED, []
        row = rb or ra
        assert row is not None
        changes.append(
            pb.LabelChange(
                kind=kind,
                item_id=row["item_id"],
                task_id=row["task_id"],
                label_id=row["label_id"],
                from_class_id=ra["class_id"] if ra else "",
                to_class_id=rb["class_id"] if rb else "",
                changed_fields=fields,
                from_event_id=ra["label_event_id"] if ra else "",
                to_event_id=rb["label_event_id"] if rb else "",
            )
        )
    return changes, summary


def _changed_fields(ra: Mapping[str, Any], rb: Mapping[str, Any]) -> list[str]:
    """What differs between two rows of one task: ``split``, ``item_uri`` and the label's own
    fields (``label_id``, ``class_id``, ``geometry``, ``answers``, ``attributes``,
    ``confidence``) and its outgoing ``relations``."""
    fields = [c for c in ("split", "item_uri") if ra[c] != rb[c]]
    if ra["label_id"] != rb["label_id"]:
        fields.append("label_id")
    if ra["label_proto"] != rb["label_proto"]:
        la = L.Label.FromString(ra["label_proto"])
        lb = L.Label.FromString(rb["label_proto"])
        if la.class_id != lb.class_id:
            fields.append("class_id")
        ga, gb = la.WhichOneof("geometry"), lb.WhichOneof("geometry")
        if ga != gb or (ga is not None and getattr(la, ga) != getattr(lb, gb)):
            fields.append("geometry")
        for name in ("answers", "attributes", "confidence"):
            if getattr(la, name) != getattr(lb, name):
                fields.append(name)
    if ra["relations"] != rb["relations"]:
        fields.append("relations")
    return fields


def _label_order(row: dict[str, Any]) -> tuple[str, str]:
    return (row["class_id"], row["label_id"])


def blame(
    rows: Iterable[tuple[str, int, int, datetime, str, bytes]],
    cut_a: Mapping[int, int],
    cut_b: Mapping[int, int],
    topic: str,
) -> dict[str, list[pb.BlameEvent]]:
    """task → its ``LabelAccepted`` events between the two cuts, in the given (log) order.

    ``rows``: (task_id, partition, offset, Kafka time, event id, payload) of the tasks.
    """
    out: dict[str, list[pb.BlameEvent]] = defaultdict(list)
    for task_id, p, o, ts, event_id, payload in rows:
        lo, hi = sorted((cut_a.get(p, 0), cut_b.get(p, 0)))
        if not lo <= o < hi:
            continue
        lineage = qev.LabelAccepted.FromString(payload).lineage
        when = Timestamp()
        when.FromDatetime(ts)
        out[task_id].append(
            pb.BlameEvent(
                event_id=event_id,
                topic=topic,
                partition=p,
                offset=o,
                time=when,
                consensus_method=CONSENSUS_METHODS.get(lineage.consensus_method, "none"),
                review_decision=REVIEW_DECISIONS[lineage.review_decision]
                if 0 <= lineage.review_decision < len(REVIEW_DECISIONS)
                else "none",
                annotator_ids=list(lineage.annotator_ids),
                reviewer=lineage.reviewer,
            )
        )
    return out

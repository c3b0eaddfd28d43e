"""Consensus of one task's ItemLabels: each geometry through its fusion, classes by vote."""

from __future__ import annotations

from labelops.labels.v1 import label_pb2 as L
from labelops_qa.domain.consensus import primary_class, task_consensus


def labels(
    item: str, cls: str | None, boxes: list[tuple[str, float]], span: tuple[int, int] | None = None
) -> L.ItemLabels:
    out = L.ItemLabels(item_id=item)
    if cls:
        out.labels.add(label_id="c", class_id=cls, whole_item=L.WholeItem())
    for k, (bcls, x) in enumerate(boxes):
        out.labels.add(
            label_id=f"b{k}", class_id=bcls, box=L.BoundingBox(x=x, y=10, width=40, height=30)
        )
    if span:
        out.labels.add(
            label_id="s", class_id="name", text_span=L.TextSpan(start=span[0], end=span[1])
        )
    return out


def test_majority_class_fused_boxes_and_spans() -> None:
    subs = [
        ("a", labels("i", "street", [("car", 10), ("person", 100)], (5, 12))),
        ("b", labels("i", "street", [("car", 12)], (5, 11))),
        ("c", labels("i", "highway", [("car", 11), ("person", 300)], (5, 12))),
    ]
    res = task_consensus("i", subs)
    assert res.class_id == "street" and primary_class(res.labels) == "street"
    kinds = [(lab.WhichOneof("geometry"), lab.class_id) for lab in res.labels.labels]
    # The car all three drew survives; each person box was drawn by one annotator only.
    assert kinds == [("whole_item", "street"), ("box", "car"), ("text_span", "name")]
    car = res.labels.labels[1].box
    assert 10 <= car.x <= 12 and car.width == 40
    span = res.labels.labels[2].text_span
    assert (span.start, span.end) == (5, 12)
    assert 0.5 < res.score < 1.0


def test_per_class_iou_threshold_decides_whether_boxes_are_one_object() -> None:
    subs = [("a", labels("i", None, [("car", 10)])), ("b", labels("i", None, [("car", 30)]))]
    # IoU of the two boxes is 0.2: one object at threshold 0.1, none kept at 0.5.
    loose = task_consensus("i", subs, box_iou={"car": 0.1, "*": 0.5})
    strict = task_consensus("i", subs, box_iou={"*": 0.5})
    assert [lab.class_id for lab in loose.labels.labels] == ["car"]
    assert list(strict.labels.labels) == [] and strict.score == 0.0


def test_class_override_from_a_project_wide_method() -> None:
    subs = [
        ("a", labels("i", "cat", [])),
        ("b", labels("i", "cat", [])),
        ("c", labels("i", "dog", [])),
    ]
    res = task_consensus("i", subs, class_override=("dog", 0.93))
    assert res.class_id == "dog" and res.score == 0.93

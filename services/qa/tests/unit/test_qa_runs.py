"""Project-wide consensus runs without Postgres or Kafka: given the project's labels, then the
whole-item classes the run decides."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import FailedPrecondition, InvalidArgument
from labelops_qa.domain import runs
from labelops_qa.domain.aggregation import Annotations
from labelops_qa.domain.model import Submission, Task

AT = datetime(2024, 5, 1, tzinfo=UTC)


def whole(cls: str) -> L.ItemLabels:
    return L.ItemLabels(labels=[L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())])


def task(n: int) -> Task:
    return Task(uuid.UUID(int=n), "p", f"img-{n}", 3, 3, False, None, False, b"", "accepted")


def project(answers: dict[int, list[tuple[str, str]]]) -> tuple[list[Task], dict]:
    tasks = [task(n) for n in sorted(answers)]
    by_task = {
        uuid.UUID(int=n): [
            Submission(who, whole(cls), str(uuid.UUID(int=1000 * n + k)), AT)
            for k, (who, cls) in enumerate(subs)
        ]
        for n, subs in answers.items()
    }
    return tasks, by_task


# The spammer always answers "dog"; the two others agree, except on task 3 where one is away.
ANSWERS = {
    1: [("good-1", "cat"), ("good-2", "cat"), ("spammer", "dog")],
    2: [("good-1", "dog"), ("good-2", "dog"), ("spammer", "dog")],
    3: [("good-1", "cat"), ("spammer", "dog")],
    4: [("good-1", "cat"), ("good-2", "cat"), ("spammer", "dog")],
}


def test_majority_vote_decides_per_task() -> None:
    tasks, by_task = project(ANSWERS)
    assert runs.project_classes("p", "majority_vote", tasks, by_task, runs.DawidSkeneFits()) == {}


@pytest.mark.parametrize("method", ["weighted_vote", "dawid_skene"])
def test_project_wide_methods_outvote_the_spammer(method: str) -> None:
    tasks, by_task = project(ANSWERS)
    out = runs.project_classes("p", method, tasks, by_task, runs.DawidSkeneFits())
    assert {t.int: c for t, (c, _) in out.items()} == {1: "cat", 2: "dog", 3: "cat", 4: "cat"}
    assert all(0 < s <= 1 for _, s in out.values())


def test_only_whole_item_labels_enter_the_matrix() -> None:
    tasks, by_task = project({1: [("a", "cat")]})
    box = L.ItemLabels(labels=[L.Label(class_id="car", box=L.BoundingBox(width=1, height=1))])
    by_task[uuid.UUID(int=1)] = [Submission("a", box, str(uuid.UUID(int=9)), AT)]
    assert runs.project_classes("p", "weighted_vote", tasks, by_task, runs.DawidSkeneFits()) == {}


def test_a_dawid_skene_fit_is_the_warm_start_of_the_next_run() -> None:
    fits = runs.DawidSkeneFits()
    tasks, by_task = project(ANSWERS)
    runs.project_classes("p", "dawid_skene", tasks, by_task, fits)
    _, codebook = Annotations.from_triples(["t"] * 3, ["new", "spammer", "good-1"], ["cat"] * 3)
    # Another class set (only "cat" here) starts cold.
    assert fits.warm_start("p", codebook) is None
    _, codebook = Annotations.from_triples(
        ["t", "t", "t"], ["new", "spammer", "good-1"], ["cat", "dog", "cat"]
    )
    init = fits.warm_start("p", codebook)
    assert init is not None and init.confusion.shape == (3, 2, 2)
    # A worker the fit has not seen gets the diagonal-heavy default; known ones keep theirs.
    np.testing.assert_allclose(init.confusion[0], [[0.7, 0.3], [0.3, 0.7]])
    assert init.confusion[1][0][1] > 0.9  # the spammer answers dog whatever the truth
    assert fits.warm_start("other-project", codebook) is None


def test_changed_vs_live() -> None:
    assert runs.changed(whole("cat"), whole("dog"))
    assert not runs.changed(whole("cat"), whole("cat"))
    assert not runs.changed(None, whole("cat"))  # no live result to differ from


def test_a_run_needs_a_method_and_labeled_tasks() -> None:
    with pytest.raises(InvalidArgument):
        runs.method_of(pb.RunConsensusRequest(method=pb.CONSENSUS_METHOD_UNSPECIFIED))
    assert runs.method_of(pb.RunConsensusRequest(method=pb.CONSENSUS_METHOD_DAWID_SKENE)) == (
        "dawid_skene"
    )
    with pytest.raises(FailedPrecondition) as e:
        runs.check_tasks("p", [])
    assert e.value.reason == "NOTHING_TO_AGGREGATE"

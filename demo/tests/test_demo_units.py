"""The demo's pure parts: which key plays which role, targets, the agreement recomputation,
and the simulated annotators' behaviour the report's numbers rest on."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_demo.__main__ import parse_targets
from labelops_demo.annotators import IN_HOUSE, VENDOR_B, SimAnnotator
from labelops_demo.data import SCALES, load
from labelops_demo.workflow import keys_from_file, keys_from_mapping, nominal_alpha

KEYS = {
    "k-admin": {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]},
    "k-rev": {"subject": "rita", "tenant_id": "acme", "roles": ["reviewer"]},
    "k-tool": {"subject": "tool", "tenant_id": "acme"},
    "k-b": {"subject": "b", "tenant_id": "acme", "kind": "vendor", "vendor_id": "beta"},
    "k-a": {"subject": "a", "tenant_id": "acme", "kind": "vendor", "vendor_id": "alpha"},
}


def test_keys_are_picked_by_role_and_vendors_by_vendor_id() -> None:
    keys = keys_from_mapping(KEYS)
    # The in-house tool acts for its team's annotators: only an admin may (routing).
    assert (keys.admin, keys.reviewer, keys.annotator) == ("k-admin", "k-rev", "k-admin")
    assert keys.vendors == (("alpha", "k-a"), ("beta", "k-b"))
    assert keys.warnings == ()


def test_missing_vendor_keys_fall_back_to_the_admin_key_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    # The list form is accepted as well as the LABELOPS_API_KEYS mapping.
    path.write_text(json.dumps([{"key": "k-admin", **KEYS["k-admin"]}]))
    keys = keys_from_file(path)
    assert keys.reviewer == keys.annotator == "k-admin"
    assert keys.vendors == (("vendor-a", "k-admin"), ("vendor-b", "k-admin"))
    assert len(keys.warnings) == 2


def test_a_key_file_without_a_manager_is_refused() -> None:
    with pytest.raises(ValueError, match="admin or manager"):
        keys_from_mapping({"k": KEYS["k-tool"]})


def test_targets_default_to_the_standard_ports_and_can_be_overridden() -> None:
    t = parse_targets("default")
    assert t["ontology"] == "127.0.0.1:50051" and t["datasets"] == "127.0.0.1:50056"
    assert parse_targets("qa=10.0.0.2:9000")["qa"] == "10.0.0.2:9000"
    with pytest.raises(SystemExit):
        parse_targets("gateway=1.2.3.4:5")


def test_nominal_alpha_matches_the_reference_implementation() -> None:
    rng = np.random.default_rng(3)
    units = [list(rng.integers(0, 3, size=rng.integers(2, 4))) for _ in range(40)]
    data = np.full((3, len(units)), np.nan)
    for j, u in enumerate(units):
        data[: len(u), j] = u
    want = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert nominal_alpha(units) == pytest.approx(want)
    assert nominal_alpha([[1, 1], [0, 0]]) == 1.0


def test_data_injects_copies_and_keeps_gold_apart() -> None:
    data = load(SCALES["small"])
    assert data.count("exact-copy") == 6 and data.count("near-copy") == 6
    by_id = {d.external_id: d for d in data.items}
    for d in data.items:
        if d.kind == "exact-copy":
            assert d.png == by_id[d.copy_of].png
        elif d.kind == "near-copy":
            a, b = np.array(d.pixels, float), np.array(by_id[d.copy_of].pixels, float)
            assert 0.99 < a @ b / np.linalg.norm(a) / np.linalg.norm(b) < 1.0
    assert not {g.external_id for g in data.gold} & set(by_id)


def test_annotators_keep_correct_prelabels_faster_and_vendor_b_drifts() -> None:
    expert = SimAnnotator("ih/1", "in-house/1", "in-house", IN_HOUSE)
    ans = [expert.answer(f"t{i}", "digit-3", "digit-3") for i in range(200)]
    kept = [a for a in ans if a.outcome == wpb.PRELABEL_OUTCOME_ACCEPTED]
    scratch = [expert.answer(f"t{i}", "digit-3", None) for i in range(200)]
    assert len(kept) > 190
    assert np.median([a.time_spent_ms for a in kept]) < np.median(
        [a.time_spent_ms for a in scratch]
    )
    b = SimAnnotator("vb/1", "vendor-b/1", "vendor-b", VENDOR_B)
    before = np.mean([b.answer(f"t{i}", "digit-9", None).class_id == "digit-9" for i in range(400)])
    b.drifting = True
    answers = [b.answer(f"t{i}", "digit-9", None).class_id for i in range(400)]
    after = np.mean([c == "digit-9" for c in answers])
    assert before - after > 0.3
    # The drift is a confusion bias, not noise: most mistakes are the classic 9 → 4.
    assert answers.count("digit-4") > 0.8 * sum(c != "digit-9" for c in answers)

"""The demo at its reduced scale, end to end: the six services in this process (fresh schemas
and topics), the whole workflow through their gRPC APIs, then the report. Asserts what a user
of the report would look for: every stage is there with numbers the services produced."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from labelops_demo.data import SCALES
from labelops_demo.report import write_report
from labelops_demo.system import SERVICES
from labelops_demo.workflow import TEAMS, run_in_process

STAGES = (
    "1. Ontology",
    "2. Curation",
    "3. Routing",
    "4. Pre-labeling",
    "5. QA",
    "6. Dataset versions",
    "MLOps fetch",
)


async def test_reduced_demo_shows_every_stage_with_real_numbers(
    pg_dsn: str,
    kafka_bootstrap: str,
    unique_name: str,
    fresh_schemas: Any,
    tmp_path: Path,
) -> None:
    schemas = dict(zip(SERVICES, await fresh_schemas(len(SERVICES)), strict=True))
    t0 = time.monotonic()
    summary = await run_in_process(
        kafka_bootstrap=kafka_bootstrap,
        pg_dsn=pg_dsn,
        data_dir=tmp_path / "data",
        scale=SCALES["small"],
        schemas=schemas,
        prefix=f"{unique_name}-",
        say=lambda _: None,
    )
    report = write_report(summary, tmp_path / "out")
    elapsed = time.monotonic() - t0
    assert elapsed < 150, f"the reduced demo took {elapsed:.0f}s"

    html = report.read_text()
    for stage in STAGES:
        assert f">{stage}" in html, stage
    # What the report shows is the summary written beside it.
    s = json.loads((tmp_path / "out" / "summary.json").read_text())

    cur = s["curation"]
    assert cur["exact_duplicates"] > 0 and cur["near_duplicates_excluded"] > 0
    assert cur["duplicates_removed"] == cur["exact_duplicates"] + cur["near_duplicates_excluded"]
    assert cur["included"] == cur["items_registered"] - cur["duplicates_removed"]
    assert f"Duplicates removed: {cur['duplicates_removed']}." in html

    r = s["routing"]
    for team in TEAMS:
        assert r["tasks_per_pool"].get(team, 0) > 0, team
        assert r["labels_per_pool"][team] > 0, team
    assert all(n > 0 for n in r["vendor_stream_messages"].values())  # vendors used Work
    assert sum(r["tasks_per_pool"].values()) == cur["included"]
    assert set(r["required_labels"]) >= {"1", "2"}  # overlap happened
    assert r["prelabel_outcomes"]["vendor-a"].get("accepted", 0) > 0

    # Vendor B is worse than the in-house team, by the truth and by QA's gold scoring.
    assert r["label_accuracy_per_pool"]["vendor-b"] < r["label_accuracy_per_pool"]["in-house"]
    gold = s["qa"]["team_gold_accuracy"]
    assert gold["vendor-b"] < gold["in-house"]
    assert s["qa"]["agreement"]["krippendorff_alpha"] is not None
    assert s["qa_label_issues"]["examined"] > 0

    p = s["prelabel"]
    assert len(p["versions"]) >= 2
    assert p["versions"][-1]["trained_on"] > p["versions"][0]["trained_on"]
    assert p["accuracy_vs_labels"] and p["active_learning"]

    ds = s["datasets"]
    v1, v2 = ds["versions"]
    assert (v1["version"], v2["version"]) == (1, 2) and v2["rows"] > v1["rows"] > 0
    d = ds["diff"]
    assert d["added"] + d["removed"] + d["changed"] > 0

    m = s["mlops"]
    assert m["version"] == 2 and m["rows"] == m["version_rows"] == v2["rows"]
    assert sum(m["class_counts"].values()) == m["rows"]
    assert f"{m['rows']} rows (the version record says {v2['rows']})" in html

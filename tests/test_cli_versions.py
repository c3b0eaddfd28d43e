"""Dataset versions through the CLI, from labels that went the whole way: curation → routing
(labels submitted by an in-house annotator) → QA (accepted) → datasets (projected), then
``versions create / list / show / fetch / export / diff``."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pyarrow.parquet as pq
from cli_support import ADMIN_KEY, CliSystem
from labelops.labels.v1 import label_pb2 as L
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_grpckit import channel
from labelops_testkit.waiting import eventually

CLASSES = ("cooking", "astronomy")
TEXTS = {
    "c1": ("Roast the vegetables in a hot oven.", "cooking"),
    "c2": ("Knead the dough and let it rise overnight.", "cooking"),
    "a1": ("Saturn's rings are made of ice and rock.", "astronomy"),
    "a2": ("The moon was full and bright last night.", "astronomy"),
}


async def _label(cli_system: CliSystem, project: str, wanted: int) -> None:
    """An in-house annotator claims and labels ``wanted`` tasks of ``project`` (by the text's
    topic, from the item URI's fragment-free external id)."""
    target = cli_system.system.targets["routing"]
    async with channel(target, api_key=ADMIN_KEY) as ch:
        await routing_pb2_grpc.RoutingServiceStub(ch).RegisterAnnotator(
            rpb.RegisterAnnotatorRequest(
                annotator=rpb.Annotator(annotator_id="crew/ann", pool_id="crew", active=True)
            )
        )
        work = workforce_pb2_grpc.WorkforceServiceStub(ch)
        offers: list[wpb.TaskOffer] = []

        async def claim() -> bool:
            resp = await work.ClaimTasks(
                wpb.ClaimTasksRequest(
                    pool_id="crew", annotator_id="crew/ann", max_tasks=10, project_id=project
                )
            )
            offers.extend(resp.offers)
            return len(offers) >= wanted

        # Tasks appear once routing has consumed curation's items: seconds alone, longer under the
        # whole suite's load.
        await eventually(claim, timeout=90, interval=0.3)
        by_item = await _classes_by_item(cli_system)
        await work.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id=f"{project}-labels",
                submissions=[
                    wpb.LabelSubmission(
                        assignment_id=o.assignment_id,
                        labels=L.ItemLabels(
                            item_id=o.item_id,
                            labels=[
                                L.Label(
                                    label_id="class",
                                    class_id=by_item[o.item_id],
                                    whole_item=L.WholeItem(),
                                )
                            ],
                        ),
                        time_spent_ms=1200,
                    )
                    for o in offers
                ],
            )
        )


async def _classes_by_item(cli_system: CliSystem) -> dict[str, str]:
    conn = await asyncpg.connect(cli_system.pg_dsn)
    try:
        rows = await conn.fetch(
            f'SELECT item_id, external_id FROM "{cli_system.schemas["curation"]}".items'
            " WHERE dataset_id = 'labeled'"
        )
    finally:
        await conn.close()
    return {str(r["item_id"]): TEXTS[r["external_id"]][1] for r in rows}


async def _projected(cli_system: CliSystem, n: int) -> bool:
    conn = await asyncpg.connect(cli_system.pg_dsn)
    try:
        schema = cli_system.schemas["datasets"]
        accepted = await conn.fetchval(f'SELECT count(*) FROM "{schema}".accepted')
        items = await conn.fetchval(
            f"SELECT count(*) FROM \"{schema}\".items WHERE dataset_id = 'labeled'"
        )
    finally:
        await conn.close()
    return bool(accepted >= n and items >= n)


async def test_versions_create_list_show_fetch_export_diff(
    cli_system: CliSystem, tmp_path: Path
) -> None:
    cli = cli_system.invoke
    onto = tmp_path / "o.json"
    onto.write_text(
        json.dumps(
            {
                "classes": [
                    {"id": c, "name": c.title(), "geometry": "classification"} for c in CLASSES
                ]
            }
        )
    )
    r = await cli("ontology", "create", str(onto), "--id", "topics-v", "--name", "T", "--publish")
    assert r.exit_code == 0, r.output
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"external_id": k, "text": t}) + "\n" for k, (t, _) in TEXTS.items())
    )
    r = await cli("items", "import", "labeled", str(items), "--embedder", "text-minilm-l6")
    assert r.exit_code == 0, r.output
    r = await cli("pools", "create", "crew", "--kind", "in-house")
    assert r.exit_code == 0, r.output
    config = tmp_path / "config.yaml"
    config.write_text("review_policy: none\noverlap: {default_sample_rate: 0}\n")
    r = await cli(
        "projects", "create", "lab", "--dataset", "labeled", "--ontology", "topics-v",
        "--config", str(config),
    )  # fmt: skip
    assert r.exit_code == 0, r.output

    await _label(cli_system, "lab", len(TEXTS))
    await eventually(lambda: _projected(cli_system, len(TEXTS)), timeout=90, interval=0.3)

    r = await cli("versions", "create", "labeled-v", "--project", "lab", "--description", "first")
    assert r.exit_code == 0, r.output
    assert "created datasets/labeled-v/versions/1: 4 rows, 4 labels" in r.stdout
    r = await cli("versions", "list", "labeled-v")
    assert r.exit_code == 0, r.output
    row = next(line for line in r.stdout.splitlines() if "first" in line)
    assert " lab " in row and "topics-v 1.0.0" in row
    r = await cli("versions", "show", "labeled-v", "--json")
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert shown["manifest"]["counts"]["per_class"] == {"astronomy": 2, "cooking": 2}

    out = tmp_path / "v1.parquet"
    r = await cli("versions", "fetch", "labeled-v", "1", "--out", str(out))
    assert r.exit_code == 0, r.output
    table = pq.read_table(out)
    assert table.num_rows == 4
    assert sorted(table.column("class_id").to_pylist()) == sorted(c for _, c in TEXTS.values())

    r = await cli(
        "versions", "export", "labeled-v", "1", "--format", "hf", "--out", str(tmp_path / "hf")
    )
    assert r.exit_code == 0, r.output
    assert "exported labeled-v version 1 as hf" in r.stdout
    exported = sorted(
        p.relative_to(tmp_path / "hf").as_posix()
        for p in (tmp_path / "hf").rglob("*")
        if p.is_file()
    )
    assert exported and all(p.endswith(".parquet") or p.endswith(".json") for p in exported), (
        exported
    )

    r = await cli("versions", "create", "labeled-v", "--description", "same cut")
    assert r.exit_code == 0, r.output
    r = await cli("versions", "diff", "labeled-v", "1", "2")
    assert r.exit_code == 0, r.output
    assert "labeled-v v1 → v2: 0 added, 0 removed, 0 changed, 4 unchanged" in r.stdout

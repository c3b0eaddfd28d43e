"""``labelops versions create | list | show | diff | fetch | export`` (datasets service)."""

from __future__ import annotations

import json
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc

from labelops_cli.config import Config
from labelops_cli.grpc import CliError, calling, cli_errors, connect, run
from labelops_cli.output import console, enum_name, err_console, print_json, table, timestamp

app = typer.Typer(help="Immutable dataset versions: create, list, diff, fetch, export.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class ExportFormat(StrEnum):
    coco = "coco"
    yolo = "yolo"
    labelstudio = "labelstudio"
    hf = "hf"


#: CLI format name → labelops_client's name.
CLIENT_FORMATS = {
    ExportFormat.coco: "coco",
    ExportFormat.yolo: "yolo",
    ExportFormat.labelstudio: "label_studio",
    ExportFormat.hf: "hf_parquet",
}


class FetchFormat(StrEnum):
    parquet = "parquet"
    arrow = "arrow"


def _record_line(v: pb.DatasetVersion) -> str:
    return (
        f"{v.name}: {v.rows} rows, {v.labels} labels, {v.files} files "
        f"({v.files_reused} reused), ontology {v.ontology_id} {v.ontology_version}, "
        f"manifest sha256 {v.manifest_sha256[:16]}"
    )


def _parse_splits(text: str, salt: str) -> pb.Splits | None:
    if not text and not salt:
        return None
    splits = pb.Splits(salt=salt)
    if text:
        try:
            train, val, test = (float(x) for x in text.split(","))
        except ValueError:
            raise CliError(f"--splits {text!r}: expected three numbers, e.g. 0.8,0.1,0.1") from None
        splits.train, splits.val, splits.test = train, val, test
    return splits


@app.command()
def create(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id (created with its first version).")],
    project: Annotated[
        str, typer.Option(help="Labeling project (required for the first version).")
    ] = "",
    description: Annotated[str, typer.Option(help="What this version is for.")] = "",
    class_id: Annotated[
        list[str] | None, typer.Option("--class", help="Only these classes (repeatable).")
    ] = None,
    min_score: Annotated[float, typer.Option(help="Minimum consensus score of a task.")] = 0.0,
    review_decision: Annotated[
        list[str] | None,
        typer.Option(help="Only tasks with these review decisions: none, accept, fix_and_accept."),
    ] = None,
    splits: Annotated[str, typer.Option(help="train,val,test ratios, e.g. 0.8,0.1,0.1.")] = "",
    salt: Annotated[str, typer.Option(help="Split salt.")] = "",
    ontology_version: Annotated[
        str, typer.Option(help="Target ontology version (default: the newest used).")
    ] = "",
    json_out: JsonOpt = False,
) -> None:
    """Create the next version from everything accepted so far (cut: latest)."""
    cfg: Config = ctx.obj

    async def go() -> None:
        flt = pb.Filter(
            class_ids=class_id or [],
            min_consensus_score=min_score,
            review_decisions=review_decision or [],
        )
        split_msg = _parse_splits(splits, salt)
        if split_msg is not None:
            flt.splits.CopyFrom(split_msg)
        async with connect(cfg, "datasets") as ch:
            resp = await datasets_pb2_grpc.DatasetServiceStub(ch).CreateDatasetVersion(
                pb.CreateDatasetVersionRequest(
                    dataset_id=dataset,
                    project_id=project,
                    cut=pb.Cut(latest=True),
                    filter=flt,
                    ontology_version=ontology_version,
                    description=description,
                    request_id=str(uuid.uuid4()),
                )
            )
        if json_out:
            print_json(resp.version)
            return
        console().print(f"created {_record_line(resp.version)}", markup=False)

    run(go())


@app.command("list")
def list_(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    json_out: JsonOpt = False,
) -> None:
    """List a dataset's versions, oldest first."""
    cfg: Config = ctx.obj

    async def go() -> None:
        versions: list[pb.DatasetVersion] = []
        async with connect(cfg, "datasets") as ch:
            stub = datasets_pb2_grpc.DatasetServiceStub(ch)
            token = ""
            while True:
                resp = await stub.ListDatasetVersions(
                    pb.ListDatasetVersionsRequest(
                        dataset_id=dataset, page_size=100, page_token=token
                    )
                )
                versions.extend(resp.versions)
                token = resp.next_page_token
                if not token:
                    break
        if json_out:
            print_json(versions)
            return
        if not versions:
            console().print(f"dataset {dataset} has no versions yet", markup=False)
            return
        rows = [
            (
                v.version,
                v.project_id,
                v.rows,
                v.labels,
                f"{v.files} ({v.files_reused} reused)",
                f"{v.ontology_id} {v.ontology_version}",
                v.manifest_sha256[:12],
                timestamp(v.create_time),
                v.description,
            )
            for v in versions
        ]
        console().print(
            table(
                f"{dataset}: {len(rows)} version(s)",
                [
                    "version",
                    "project",
                    "rows",
                    "labels",
                    "files",
                    "ontology",
                    "manifest",
                    "created (UTC)",
                    "description",
                ],
                rows,
            )
        )

    run(go())


@app.command()
def show(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    version: Annotated[int, typer.Argument(help="Version number (0 = latest).")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """A version's record and the counts of its manifest."""
    cfg: Config = ctx.obj

    async def go() -> None:
        async with connect(cfg, "datasets") as ch:
            resp = await datasets_pb2_grpc.DatasetServiceStub(ch).GetDatasetVersion(
                pb.GetDatasetVersionRequest(dataset_id=dataset, version=version)
            )
        manifest: dict[str, Any] = json.loads(resp.manifest_json or b"{}")
        if json_out:
            print_json({"version": resp.version, "manifest": manifest})
            return
        out = console()
        out.print(_record_line(resp.version), markup=False)
        counts = manifest.get("counts", {})
        for key in ("per_class", "per_split"):
            if counts.get(key):
                out.print(
                    table(key.replace("_", " "), ["value", "labels"], sorted(counts[key].items()))
                )

    run(go())


@app.command()
def diff(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    from_version: Annotated[int, typer.Argument(help="Older version.")],
    to_version: Annotated[int, typer.Argument(help="Newer version.")],
    limit: Annotated[int, typer.Option(help="Changes to list (the summary counts all).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Added, removed and changed labels between two versions, with blame."""
    cfg: Config = ctx.obj

    async def go() -> None:
        changes: list[pb.LabelChange] = []
        summary = pb.DiffSummary()
        async with connect(cfg, "datasets") as ch:
            stub = datasets_pb2_grpc.DatasetServiceStub(ch)
            token = ""
            while True:
                resp = await stub.DiffDatasetVersions(
                    pb.DiffDatasetVersionsRequest(
                        dataset_id=dataset,
                        from_version=from_version,
                        to_version=to_version,
                        page_size=min(max(limit, 1), 1000),
                        page_token=token,
                    )
                )
                summary = resp.summary
                changes.extend(resp.changes)
                token = resp.next_page_token
                if not token or len(changes) >= limit:
                    break
        changes = changes[:limit]
        if json_out:
            print_json({"summary": summary, "changes": changes})
            return
        out = console()
        out.print(
            f"{dataset} v{from_version} → v{to_version}: {summary.added} added, "
            f"{summary.removed} removed, {summary.changed} changed, "
            f"{summary.unchanged} unchanged",
            markup=False,
        )
        if changes:
            rows = [
                (
                    enum_name(c.kind, pb.ChangeKind, "CHANGE_KIND_"),
                    c.task_id,
                    c.label_id,
                    f"{c.from_class_id or '∅'} → {c.to_class_id or '∅'}",
                    ", ".join(c.changed_fields),
                    ", ".join(sorted({a for b in c.blame for a in b.annotator_ids})),
                )
                for c in changes
            ]
            out.print(
                table(None, ["change", "task", "label", "class", "fields", "annotators"], rows)
            )

    run(go())


def _client(cfg: Config) -> Any:
    from labelops_client import Client

    return Client(cfg.target("datasets"), api_key=cfg.api_key)


@app.command()
def fetch(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    version: Annotated[int, typer.Argument(help="Version number (0 = latest).")] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File to write (default: <dataset>-v<N>.<format>)."),
    ] = None,
    fmt: Annotated[
        FetchFormat, typer.Option("--format", help="File format.")
    ] = FetchFormat.parquet,
    split: Annotated[str, typer.Option(help="Only this split (train, val, test).")] = "",
    column: Annotated[
        list[str] | None, typer.Option("--column", help="Only these columns (repeatable).")
    ] = None,
) -> None:
    """Download a version's rows (Arrow stream) into a Parquet or Arrow file."""
    cfg: Config = ctx.obj
    with cli_errors(), calling("datasets", cfg.target("datasets")):
        import pyarrow.feather as feather
        import pyarrow.parquet as pq

        with _client(cfg) as client:
            with err_console().status(f"fetching {dataset} version {version or 'latest'} …"):
                try:
                    v = client.dataset(dataset).version(version)
                    data = v.to_arrow(split=split, columns=column or ())
                except ValueError as exc:  # manifest / row count checks of the client
                    raise CliError(str(exc)) from None
            path = out or Path(f"{dataset}-v{v.number}.{fmt.value}")
            path.parent.mkdir(parents=True, exist_ok=True)
            if fmt == FetchFormat.parquet:
                pq.write_table(data, path)
            else:
                feather.write_feather(data, str(path))
        console().print(
            f"wrote {data.num_rows} rows x {data.num_columns} columns of {dataset} version "
            f"{v.number} to {path}",
            markup=False,
        )


@app.command()
def export(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    version: Annotated[int, typer.Argument(help="Version number (0 = latest).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Export format.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")] = Path("."),
) -> None:
    """Export a version as COCO, YOLO, Label Studio or HF Parquet (files checked by sha256)."""
    cfg: Config = ctx.obj
    with cli_errors(), calling("datasets", cfg.target("datasets")):
        with _client(cfg) as client:
            with err_console().status(f"exporting {dataset} version {version} as {fmt.value} …"):
                try:
                    v = client.dataset(dataset).version(version)
                    files = v.export(CLIENT_FORMATS[fmt], out)
                except ValueError as exc:
                    raise CliError(str(exc)) from None
        console().print(
            f"exported {dataset} version {v.number} as {fmt.value}: {len(files)} file(s) in {out}",
            markup=False,
        )
        for f in files:
            console().print(f"  {f}", markup=False)

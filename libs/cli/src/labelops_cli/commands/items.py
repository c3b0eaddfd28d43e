"""``labelops items import | search``: items into curation, natural-language search over them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import curation_pb2_grpc
from labelops_grpckit import error_details
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from labelops_cli.config import Config
from labelops_cli.grpc import CliError, connect, describe, run
from labelops_cli.inputs import parse_message
from labelops_cli.output import console, enum_name, err_console, print_json, table, warn

app = typer.Typer(help="Items: import into a curation dataset, search them.")

#: Embedders a dataset created by `items import` gets (the curation service's built-ins).
DEFAULT_EMBEDDERS = ("text-minilm-l6", "image-phash")
#: Items per RegisterItems message (the service takes at most 1000) and a byte budget per
#: message, well below the service's 16 MiB message limit.
MAX_BATCH = 1000
MAX_BATCH_BYTES = 4 * 1024 * 1024
#: Inline text limit of the service.
MAX_TEXT_BYTES = 64 * 1024

SUFFIX_MODALITY = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"), "image"),
    **dict.fromkeys((".txt", ".md", ".text"), "text"),
    **dict.fromkeys((".mp4", ".mov", ".avi", ".mkv", ".webm"), "video"),
    **dict.fromkeys((".wav", ".mp3", ".flac", ".ogg", ".m4a"), "audio"),
    ".dcm": "dicom",
}
_SPEC_FIELDS = {f.name for f in pb.ItemSpec.DESCRIPTOR.fields} | {
    f.json_name for f in pb.ItemSpec.DESCRIPTOR.fields
}


# --------------------------------------------------------------------------------------------
# Reading a JSONL file or a folder into ItemSpecs
# --------------------------------------------------------------------------------------------


def spec_from_json(obj: Any, source: Path, lineno: int) -> pb.ItemSpec:
    """One JSONL line as an ItemSpec.

    ItemSpec fields are taken as they are (enum names short or full: ``"modality": "text"``);
    any other top-level key becomes metadata. Defaults: ``external_id`` = ``<file>:<line>``,
    modality text when the line has ``text``, and for text items the file's URI with the line
    as fragment (the service reads inline text, never that URI).
    """
    where = f"{source}:{lineno}"
    if not isinstance(obj, dict):
        raise CliError(f"{where}: expected a JSON object")
    spec_doc = {k: v for k, v in obj.items() if k in _SPEC_FIELDS}
    extra = {k: v for k, v in obj.items() if k not in _SPEC_FIELDS}
    metadata = dict(spec_doc.pop("metadata", None) or {})
    for key, value in extra.items():
        metadata.setdefault(key, value if isinstance(value, str) else json.dumps(value))
    if metadata:
        spec_doc["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    if "modality" not in spec_doc:
        if spec_doc.get("text"):
            spec_doc["modality"] = "text"
        elif isinstance(spec_doc.get("uri"), str):
            guessed = SUFFIX_MODALITY.get(Path(spec_doc["uri"].split("?")[0]).suffix.lower())
            if guessed:
                spec_doc["modality"] = guessed
    spec = parse_message(spec_doc, pb.ItemSpec, where)
    if not spec.external_id:
        spec.external_id = f"{source.name}:{lineno}"
    if not spec.uri:
        if spec.text:
            spec.uri = f"{source.resolve().as_uri()}#L{lineno}"
        else:
            raise CliError(f"{where}: 'uri' is required for items without inline 'text'")
    if spec.modality == pb.MODALITY_UNSPECIFIED:
        raise CliError(f"{where}: 'modality' is required (image, video, text, audio or dicom)")
    return spec


def _jsonl_specs(path: Path) -> Iterator[pb.ItemSpec]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CliError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            yield spec_from_json(obj, path, lineno)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def spec_from_file(path: Path, root: Path) -> pb.ItemSpec | None:
    """A file of a folder as an ItemSpec (None for a suffix that names no modality).

    ``external_id`` is the path relative to the folder, ``uri`` the file's ``file://`` URI;
    text files are sent inline, other files with their size and sha256 (and images with their
    size in pixels), so the service can check the content when it may read it.
    """
    modality = SUFFIX_MODALITY.get(path.suffix.lower())
    if modality is None:
        return None
    spec = pb.ItemSpec(
        external_id=path.relative_to(root).as_posix(),
        uri=path.resolve().as_uri(),
        modality=pb.Modality.Value(f"MODALITY_{modality.upper()}"),
    )
    if modality == "text":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CliError(f"{path}: text files must be UTF-8") from None
        if len(data) <= MAX_TEXT_BYTES:
            spec.text = text
            return spec
    spec.size_bytes = path.stat().st_size
    spec.checksum = _sha256(path)
    if modality == "image":
        with contextlib.suppress(Exception):
            from PIL import Image

            with Image.open(path) as im:
                spec.width, spec.height = im.size
    return spec


@dataclass
class Source:
    """What to import: how many items, and a way to read them (again)."""

    path: Path
    total: int
    skipped: int

    def specs(self) -> Iterator[pb.ItemSpec]:
        if self.path.is_dir():
            for f in _folder_files(self.path):
                spec = spec_from_file(f, self.path)
                if spec is not None:
                    yield spec
        else:
            yield from _jsonl_specs(self.path)


def _folder_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def open_source(path: Path) -> Source:
    """Check the whole input before anything is sent: a bad line fails the import up front."""
    if not path.exists():
        raise CliError(f"{path}: no such file or folder")
    if path.is_dir():
        files = _folder_files(path)
        usable = [f for f in files if f.suffix.lower() in SUFFIX_MODALITY]
        return Source(path, len(usable), len(files) - len(usable))
    total = sum(1 for _ in _jsonl_specs(path))
    return Source(path, total, 0)


def batches(specs: Iterator[pb.ItemSpec], size: int) -> Iterator[list[pb.ItemSpec]]:
    """Specs in messages of at most ``size`` items and about MAX_BATCH_BYTES."""
    batch: list[pb.ItemSpec] = []
    nbytes = 0
    for spec in specs:
        n = spec.ByteSize()
        if batch and (len(batch) >= size or nbytes + n > MAX_BATCH_BYTES):
            yield batch
            batch, nbytes = [], 0
        batch.append(spec)
        nbytes += n
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


async def ensure_dataset(
    stub: curation_pb2_grpc.CurationServiceStub,
    dataset: str,
    embedders: list[str],
    auto_include: bool,
) -> bool:
    """Create the curation dataset unless it exists. True when it created it."""
    try:
        await stub.GetDataset(pb.GetDatasetRequest(dataset_id=dataset))
        return False
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
    try:
        await stub.CreateDataset(
            pb.CreateDatasetRequest(
                dataset_id=dataset,
                display_name=dataset,
                embedders=embedders,
                auto_include=auto_include,
                request_id=str(uuid.uuid4()),
            )
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:  # created meanwhile: fine
            raise
        return False
    return True


@app.command("import")
def import_(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Curation dataset id (created when missing).")],
    source: Annotated[
        Path, typer.Argument(help="A .jsonl file (one ItemSpec per line) or a folder of files.")
    ],
    embedder: Annotated[
        list[str] | None,
        typer.Option(
            "--embedder",
            help="Embedders of a new dataset (repeatable) (default: text-minilm-l6, image-phash).",
            show_default=False,
        ),
    ] = None,
    auto_include: Annotated[
        bool, typer.Option(help="A new dataset includes its items at registration.")
    ] = True,
    batch: Annotated[
        int, typer.Option(min=1, max=MAX_BATCH, help="Items per RegisterItems message.")
    ] = 500,
    import_id: Annotated[str, typer.Option(help="Import id (reuse one to resume an import).")] = "",
    json_out: Annotated[bool, typer.Option("--json", help="Print the import as JSON.")] = False,
) -> None:
    """Stream items into curation's RegisterItems (client stream) with a progress bar."""
    cfg: Config = ctx.obj

    async def go() -> None:
        src = open_source(source)
        if src.skipped:
            warn(f"{src.skipped} file(s) in {source} have no known item suffix; skipped")
        if src.total == 0:
            raise CliError(f"{source}: no items to import")
        if source.is_dir() and any(s.modality != pb.MODALITY_TEXT for s in _first(src.specs(), 50)):
            warn(
                "files are registered by file:// URI; curation reads (and embeds) them only "
                "under LABELOPS_CURATION_FILE_ROOTS"
            )
        iid = import_id or f"cli-{uuid.uuid4().hex[:16]}"
        async with connect(cfg, "curation") as ch:
            stub = curation_pb2_grpc.CurationServiceStub(ch)
            created = await ensure_dataset(
                stub, dataset, list(embedder or DEFAULT_EMBEDDERS), auto_include
            )
            if created:
                err_console().print(f"created dataset {dataset}", markup=False)
            imp = await _stream(stub, cfg.target("curation"), dataset, iid, src, batch)
        if json_out:
            print_json(imp)
            return
        console().print(
            f"import {imp.import_id} into {dataset}: "
            f"{enum_name(imp.state, pb.ImportState, 'IMPORT_STATE_')} — "
            f"{imp.items_received} received, {imp.items_registered} registered, "
            f"{imp.items_already_registered} already registered, "
            f"{imp.exact_duplicates} exact duplicates, {imp.vectors_written} vectors",
            markup=False,
        )

    run(go())


def _import_of(resp: pb.RegisterItemsResponse | pb.GetImportResponse) -> pb.Import:
    # The field is named `import`, a Python keyword.
    imp: pb.Import = getattr(resp, "import")
    return imp


def _first(it: Iterator[pb.ItemSpec], n: int) -> list[pb.ItemSpec]:
    out = []
    for spec in it:
        out.append(spec)
        if len(out) >= n:
            break
    return out


async def _stream(
    stub: curation_pb2_grpc.CurationServiceStub,
    target: str,
    dataset: str,
    import_id: str,
    src: Source,
    batch: int,
) -> pb.Import:
    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console(), transient=True) as progress:
        task = progress.add_task("import", total=src.total, note="")
        sent = 0

        async def requests() -> AsyncIterator[pb.RegisterItemsRequest]:
            nonlocal sent
            for items in batches(src.specs(), batch):
                yield pb.RegisterItemsRequest(dataset_id=dataset, import_id=import_id, items=items)
                sent += len(items)
                progress.update(task, note=f"sent {sent}")

        async def poll() -> None:
            # The bar shows what the service has committed (the stream only says what was
            # sent): the service reads a message only after the previous one committed.
            while True:
                await asyncio.sleep(0.5)
                with contextlib.suppress(grpc.aio.AioRpcError):
                    got = await stub.GetImport(pb.GetImportRequest(import_id=import_id))
                    progress.update(task, completed=_import_of(got).items_received)

        poller = asyncio.create_task(poll())
        try:
            resp = await stub.RegisterItems(requests())
        except grpc.aio.AioRpcError as exc:
            committed = error_details(exc).metadata.get("items_committed")
            message = describe(exc, "curation", target)
            if committed is not None:
                message += (
                    f"; {committed} item(s) before it stay committed — fix the input and run "
                    f"the same import again (registration is idempotent)"
                )
            raise CliError(message) from None
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        imp = _import_of(resp)
        progress.update(task, completed=imp.items_received)
    return imp


@app.command()
def search(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Curation dataset id.")],
    query: Annotated[str, typer.Argument(help="Natural-language query.")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Results.")] = 10,
    min_score: Annotated[float, typer.Option(help="Only results with cosine ≥ this.")] = 0.0,
    vector_space: Annotated[
        str, typer.Option(help="Text embedder to search with (default: the dataset's).")
    ] = "",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Natural-language search over a dataset's items (curation SearchText)."""
    cfg: Config = ctx.obj

    async def go() -> None:
        async with connect(cfg, "curation") as ch:
            stub = curation_pb2_grpc.CurationServiceStub(ch)
            resp = await stub.SearchText(
                pb.SearchTextRequest(
                    dataset_id=dataset,
                    query=query,
                    limit=limit,
                    min_score=min_score,
                    vector_space=vector_space,
                )
            )
        if json_out:
            print_json(resp)
            return
        rows = []
        for rank, r in enumerate(resp.results, start=1):
            content = r.item.text or r.item.uri
            rows.append(
                (
                    rank,
                    f"{r.score:.3f}",
                    r.item.external_id,
                    enum_name(r.item.state, pb.CurationState, "CURATION_STATE_"),
                    content if len(content) <= 100 else content[:99] + "…",
                )
            )
        console().print(
            table(
                f"{len(rows)} results for {query!r} in {dataset} ({resp.vector_space})",
                ["#", "score", "external id", "state", "text / uri"],
                rows,
            )
        )

    run(go())

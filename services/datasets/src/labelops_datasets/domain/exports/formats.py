"""ExportDatasetVersion (pure): a version's table in the asked format, as the streamed reply
(a header listing the files with their sha256, then the files in chunks)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops_core.errors import FieldViolation, InvalidArgument

from ..manifest import canonical
from ..splits import SPLITS
from .coco import to_coco_splits
from .common import Export
from .label_studio import to_label_studio
from .parquet import to_parquet_bytes
from .yolo import to_yolo


def check_format(fmt: int) -> None:
    """INVALID_ARGUMENT unless ``fmt`` is an ``ExportFormat`` other than unspecified."""
    if fmt == pb.EXPORT_FORMAT_UNSPECIFIED or fmt not in pb.ExportFormat.values():
        raise InvalidArgument(
            "choose an export format", [FieldViolation("format", "one of ExportFormat")]
        )


def export_as(table: pa.Table, fmt: int) -> Export:
    """The table in format ``fmt``; the Hugging Face format is Parquet per split."""
    if fmt == pb.EXPORT_FORMAT_COCO:
        return to_coco_splits(table)
    if fmt == pb.EXPORT_FORMAT_YOLO:
        return to_yolo(table)
    if fmt == pb.EXPORT_FORMAT_LABEL_STUDIO:
        return to_label_studio(table)
    files = {}
    for split in SPLITS:
        part = table.filter(pc.equal(table.column("split"), split))
        if part.num_rows:
            files[f"data/{split}.parquet"] = to_parquet_bytes(part)
    return Export(files=files, format="hf_parquet", stats={"rows": table.num_rows})


def export_replies(
    result: Export, fmt: int, chunk_bytes: int
) -> Iterator[pb.ExportDatasetVersionResponse]:
    """The header (files in path order, with size and sha256), then each file in chunks of
    ``chunk_bytes`` (an empty file as one empty chunk)."""
    header = pb.ExportHeader(format=fmt, stats_json=canonical(result.stats).decode())
    paths = sorted(result.files)
    for path in paths:
        data = result.files[path]
        header.files.append(
            pb.ExportFile(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
        )
    yield pb.ExportDatasetVersionResponse(header=header)
    for path in paths:
        data = result.files[path]
        for offset in range(0, max(len(data), 1), chunk_bytes):
            yield pb.ExportDatasetVersionResponse(
                chunk=pb.ExportChunk(
                    path=path, offset=offset, data=data[offset : offset + chunk_bytes]
                )
            )

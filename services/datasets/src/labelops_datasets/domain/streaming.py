"""StreamDatasetVersion's bytes (pure): a version's files as one Arrow IPC stream, in chunks.

The concatenated ``arrow_ipc`` bytes of the messages are one IPC stream
(``pyarrow.ipc.open_stream``): the selected columns of every file in manifest order, filtered
to a split when one is asked for.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from labelops_core.errors import FieldViolation, InvalidArgument

from labelops_datasets.domain.rows import SCHEMA, no_relations
from labelops_datasets.domain.splits import SPLITS


class IpcStream:
    """The stream's columns and its IPC writer; ``add`` a file's bytes, take the chunks."""

    def __init__(self, split: str, columns: Sequence[str], chunk_bytes: int) -> None:
        violations = []
        if split and split not in SPLITS:
            violations.append(FieldViolation("split", f"one of {', '.join(SPLITS)}"))
        unknown = [c for c in columns if c not in SCHEMA.names]
        if unknown:
            violations.append(FieldViolation("columns", f"unknown columns {unknown}"))
        if violations:
            raise InvalidArgument("invalid StreamDatasetVersion request", violations)
        self.split = split
        self.columns = list(dict.fromkeys(columns)) or list(SCHEMA.names)
        self.schema = pa.schema([SCHEMA.field(c) for c in self.columns])
        self._read = (
            self.columns if not split or "split" in self.columns else [*self.columns, "split"]
        )
        self._chunk_bytes = chunk_bytes
        self._sink = io.BytesIO()
        self._writer = pa.ipc.new_stream(self._sink, self.schema)
        self.rows = 0  # rows written since the last chunk

    def add(self, data: bytes) -> Iterator[tuple[bytes, int]]:
        """Write one Parquet file's selected rows; yields (IPC bytes, rows) whenever a chunk of
        ``chunk_bytes`` is full."""
        parquet = pq.ParquetFile(pa.BufferReader(data))
        # A schema 1 file has no relations column: its rows stream with none.
        present = set(parquet.schema_arrow.names)
        read = [c for c in self._read if c in present]
        for batch in parquet.iter_batches(batch_size=16_384, columns=read):
            if self.split:
                batch = batch.filter(pc.equal(batch.column("split"), self.split))
            batch = pa.RecordBatch.from_arrays(
                [
                    batch.column(c) if c in present else no_relations(batch.num_rows)
                    for c in self.columns
                ],
                schema=self.schema,
            )
            if not batch.num_rows:
                continue
            self._writer.write_batch(batch)
            self.rows += batch.num_rows
            if self._sink.tell() >= self._chunk_bytes:
                yield self._drain()

    def close(self) -> tuple[bytes, int]:
        """The last chunk (end of stream included)."""
        self._writer.close()
        return self._drain()

    def _drain(self) -> tuple[bytes, int]:
        data = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        rows, self.rows = self.rows, 0
        return data, rows

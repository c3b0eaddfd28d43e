"""The table itself: a Hugging Face ``datasets.Dataset`` in memory, or Parquet bytes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pragma: no cover - typing only; `datasets` is imported lazily at call time
    import datasets


# --------------------------------------------------------------------------------------------
# Hugging Face / Parquet


def to_hf_dataset(table: pa.Table) -> datasets.Dataset:
    """The table as an in-memory Hugging Face ``datasets.Dataset``, every column kept.

    Wraps the Arrow table without copying; ``datasets`` derives the features from the Arrow
    types (e.g. ``bbox`` → ``List(float64, length=4)``, ``label_proto`` → binary). It drops
    the fields' non-null flags and adds its own schema metadata, which changes no values.
    ``datasets`` is imported here so the service only loads it when an export asks for it.
    """
    import datasets
    from datasets.table import InMemoryTable

    return datasets.Dataset(InMemoryTable(table))


def to_parquet_bytes(table: pa.Table) -> bytes:
    """The table as one Parquet file (the "Parquet for HF" export), rows in the given order.

    Reads back with ``datasets.load_dataset("parquet", data_files=...)`` or any Parquet reader.
    Writer options are pinned (codec, page index off, statistics on) so the bytes depend only
    on the table and the pyarrow version (which is recorded in the file's ``created_by``).
    """
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        write_statistics=True,
        write_page_index=False,
        use_dictionary=True,
    )
    return buf.getvalue()

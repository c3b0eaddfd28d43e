"""A version's manifest: canonical JSON of its definition, files, counts and lineage (pure).

Canonical JSON (sorted keys, compact separators, UTF-8, no NaN, one trailing newline) and *no
wall-clock timestamp*: see ``materialize`` for why. ``read_version`` reads a version back from
its files (and manifest).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from labelops_datasets.domain.rows import (
    READABLE_SCHEMA_VERSIONS,
    SCHEMA,
    SCHEMA_VERSION,
    SORT_KEYS,
    with_relations,
)

MANIFEST_PATH = "manifest.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_path(index: int) -> str:
    """Relative path of the ``index``-th data file of a version."""
    return f"data/labels-{index:05d}.parquet"


def canonical(obj: Any) -> bytes:
    """Compact canonical JSON (sorted keys, UTF-8), no trailing newline: fingerprints and
    cached stats."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact, UTF-8 (not \\u-escaped), newline-terminated.

    ``allow_nan=False``: NaN / Infinity are not JSON, and would not round-trip through other
    readers, so they are refused rather than written.
    """
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def _plain(value: Any, where: str) -> Any:
    """A caller-supplied mapping as plain JSON values (Mapping → dict, tuple → list).

    Anything else (datetimes, sets, bytes, NaN) is refused: its JSON form would be ambiguous or
    unstable, and the manifest must read back exactly as written.
    """
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be str, got {k!r}")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not valid JSON")
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON value")


def content_sha256(files: Sequence[Mapping[str, Any]]) -> str:
    """The content hash of a version's cut: sha256 of the canonical JSON list of its data
    files' ``[sha256, rows]``, in manifest order.

    Nothing of the version's definition is in it (dataset id, number, creator, cut offsets,
    filter): a data file's bytes depend only on its rows (segment files: on their fingerprint,
    which holds no version number and no time), so two versions of the same cut have the same
    content hash, and versions whose rows differ have different ones. The manifest's own
    sha256 (``manifest_sha256``) names the version and holds its number, so it differs.
    """
    return _sha256(canonical([[f["sha256"], f["rows"]] for f in files]))


def _definition(
    *,
    dataset_id: str,
    version: int,
    cut: Mapping[str, Any] | Sequence[Any],
    filter: Mapping[str, Any],
    ontology: Mapping[str, Any],
    created_by: str,
) -> dict[str, Any]:
    """The manifest's definition keys, validated (ValueError) and as plain JSON values."""
    if not isinstance(dataset_id, str) or not isinstance(created_by, str):
        raise ValueError("dataset_id and created_by must be str")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be a non-negative int, got {version!r}")
    return {
        "dataset_id": _plain(dataset_id, "dataset_id"),
        "version": version,
        "created_by": _plain(created_by, "created_by"),
        "cut": _plain(cut, "cut"),
        "filter": _plain(filter, "filter"),
        "ontology": _plain(ontology, "ontology"),
    }


def _manifest(
    definition: Mapping[str, Any],
    files: list[dict[str, Any]],
    stats: Mapping[str, Any],
    writer: Mapping[str, Any],
) -> tuple[bytes, str, dict[str, Any]]:
    """The canonical manifest bytes, their sha256 and the manifest parsed back from them.

    One builder for ``materialize`` and ``assemble``: counts and lineage come from the
    version's stats (``SegmentFile`` layout), the annotator set reported as its size;
    ``writer`` is ``materialize``'s record of the writer settings.
    """
    counts = {
        key: stats[key]
        for key in (
            "rows",
            "labels",
            "per_split",
            "items_per_split",
            "per_class",
            "per_split_class",
            "per_geometry_kind",
        )
    }
    lineage = {
        # Rows per consensus method / review decision, "" (none recorded) included as such.
        "consensus_methods": stats["consensus_methods"],
        "review_decisions": stats["review_decisions"],
        "annotators": len(stats["annotators"]),
        "label_events": stats["label_events"],
        # Rows per prelabel model and version; rows without a prelabel are not listed.
        "prelabel_models": stats["prelabel_models"],
    }
    manifest = {
        **definition,
        "schema_version": SCHEMA_VERSION,
        "sort_keys": list(SORT_KEYS),
        "writer": dict(writer),
        "row_count": stats["rows"],
        "counts": counts,
        "files": files,
        "content_sha256": content_sha256(files),
        "lineage": lineage,
    }
    manifest_bytes = canonical_json(manifest)
    # Parsed back from the bytes, so the dict is exactly what readers will see.
    return manifest_bytes, _sha256(manifest_bytes), json.loads(manifest_bytes)


# --------------------------------------------------------------------------------------------
# Reading


def read_version(files: Mapping[str, bytes], *, verify: bool = True) -> pa.Table:
    """The version's rows (``rows.SCHEMA``): its data files concatenated, in manifest order.

    Each file's rows are sorted by ``SORT_KEYS``; a ``materialize``d version's files are also
    in sorted order, an ``assemble``d version's in segment order.

    With a ``manifest.json`` in ``files`` the files are read in manifest order and checked
    against its row counts and, if ``verify``, its sha256 (ValueError on a mismatch; callers
    that verified the bytes already pass ``verify=False``); a manifest of another schema
    version than ``READABLE_SCHEMA_VERSIONS`` is refused (a schema 1 file's rows come with
    empty ``relations``), a manifest listing no file (an assembled version of no rows) gives an
    empty table. Without a manifest, every "data/*.parquet" path is read in path order (the
    paths are zero-padded, so that is manifest order); there must be at least one.
    """
    manifest_bytes = files.get(MANIFEST_PATH)
    expected: list[tuple[str, str | None, int | None]]
    if manifest_bytes is not None:
        manifest = json.loads(manifest_bytes)
        if manifest.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
            raise ValueError(
                f"version has schema_version {manifest.get('schema_version')!r}, "
                f"this code reads {', '.join(map(str, READABLE_SCHEMA_VERSIONS))}"
            )
        expected = [(f["path"], f["sha256"], f["rows"]) for f in manifest["files"]]
        if not expected:
            return SCHEMA.empty_table()
    else:
        paths = sorted(p for p in files if p.startswith("data/") and p.endswith(".parquet"))
        expected = [(p, None, None) for p in paths]
        if not expected:
            raise ValueError("no data files in the version")

    tables = []
    for path, sha256, rows in expected:
        if path not in files:
            raise ValueError(f"data file {path} is missing")
        data = files[path]
        if verify and sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"data file {path} does not match its sha256 {sha256}")
        # A schema 1 file has no relations column: read with none (what it held).
        part = with_relations(pq.ParquetFile(pa.BufferReader(data)).read()).select(SCHEMA.names)
        if rows is not None and part.num_rows != rows:
            raise ValueError(f"data file {path} has {part.num_rows} rows, manifest says {rows}")
        tables.append(part)
    return pa.concat_tables(tables)

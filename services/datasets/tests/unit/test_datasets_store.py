"""ObjectStore over memory:// and a local folder: layout, idempotence, dedupe, integrity."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labelops_datasets.adapters.object_store import IntegrityError, ObjectStore
from labelops_datasets.domain.materialize import MANIFEST_PATH, Materialized, materialize

# This directory is on sys.path (pytest's prepend import mode): share the row builder.
from test_datasets_materialize import DEFINITION, make_rows, sort_key, to_table


def mat(rows: list[dict[str, Any]], **over: Any) -> Materialized:
    return materialize(to_table(rows), **{**DEFINITION, **over})


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return make_rows(50, seed=3)


@pytest.fixture(scope="module")
def version(rows: list[dict[str, Any]]) -> Materialized:
    return mat(rows, rows_per_file=20)


@pytest.fixture(params=["memory", "file", "path"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "memory":
        url = f"memory://labelops-test-{uuid.uuid4().hex}/datasets"
    elif request.param == "file":
        url = (tmp_path / "store").as_uri()  # file:///...
    else:
        url = str(tmp_path / "plain")
    s = ObjectStore(url)
    yield s
    if s.fs.exists(s.root):
        s.fs.rm(s.root, recursive=True)


def stored_files(s: ObjectStore) -> list[str]:
    if not s.fs.exists(s.root):
        return []
    return sorted(p for p in s.fs.find(s.root))


def test_put_version_layout_and_round_trip(
    store: ObjectStore, version: Materialized, rows: list[dict[str, Any]]
) -> None:
    url = store.put_version(version)
    assert url == store.manifest_url(version.digest)
    assert url.endswith(f"/versions/{version.digest}/manifest.json")
    assert "://" in url
    expected = {store.manifest_path(version.digest)} | {
        store.blob_path(e["sha256"]) for e in version.manifest["files"]
    }
    assert set(stored_files(store)) == expected
    for e in version.manifest["files"]:
        sha = e["sha256"]
        assert store.blob_path(sha).endswith(f"/blobs/sha256/{sha[:2]}/{sha}")
        assert store.get_file(sha) == version.files[e["path"]]
    assert store.get_manifest(version.digest) == version.manifest
    assert store.has_version(version.digest)
    table = store.open_version(version.digest)
    assert table.to_pylist() == sorted(rows, key=sort_key)


def test_put_twice_is_idempotent(
    store: ObjectStore, version: Materialized, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.put_version(version)
    before = {p: store.fs.cat_file(p) for p in stored_files(store)}
    # Every way an object can be written: renamed into place (local) or piped (others).
    writes: list[str] = []
    pipe_file, replace = store.fs.pipe_file, os.replace
    monkeypatch.setattr(
        store.fs,
        "pipe_file",
        lambda path, *a, **kw: (writes.append(path), pipe_file(path, *a, **kw)),
    )
    monkeypatch.setattr(os, "replace", lambda src, dst: (writes.append(dst), replace(src, dst)))
    assert store.put_version(version) == first
    assert writes == []
    assert {p: store.fs.cat_file(p) for p in stored_files(store)} == before


def test_blobs_are_shared_between_versions(store: ObjectStore, rows: list[dict[str, Any]]) -> None:
    """Version 2 = version 1 + rows that sort last: its leading full files are version 1's."""
    v1 = mat(rows, rows_per_file=20)
    # "val" sorts after "test" and "train"; "zz" item ids after every "item-..." id.
    extra = make_rows(10, seed=9, split="val", item_prefix="zz")
    v2 = mat(rows + extra, rows_per_file=20, version=4)
    shas1 = [e["sha256"] for e in v1.manifest["files"]]
    shas2 = [e["sha256"] for e in v2.manifest["files"]]
    full_files = len(rows) // 20
    assert shas1[:full_files] == shas2[:full_files] and full_files >= 1
    store.put_version(v1)
    store.put_version(v2)
    blobs = [p for p in stored_files(store) if "/blobs/" in p]
    assert len(blobs) == len(set(shas1) | set(shas2)) < len(shas1) + len(shas2)
    # Same rows, new version number: a new manifest, no new blob.
    v3 = mat(rows, rows_per_file=20, version=9)
    store.put_version(v3)
    assert [p for p in stored_files(store) if "/blobs/" in p] == blobs
    assert {p for p in stored_files(store) if "/versions/" in p} == {
        store.manifest_path(v.digest) for v in (v1, v2, v3)
    }
    assert store.open_version(v2.digest).num_rows == len(rows) + len(extra)


def test_corrupted_blob_is_detected(store: ObjectStore, version: Materialized) -> None:
    store.put_version(version)
    sha = version.manifest["files"][1]["sha256"]
    path = store.blob_path(sha)
    data = bytearray(store.fs.cat_file(path))
    data[len(data) // 2] ^= 0x01
    store.fs.pipe_file(path, bytes(data))
    with pytest.raises(IntegrityError):
        store.get_file(sha)
    with pytest.raises(IntegrityError):
        store.open_version(version.digest)
    # The other blobs still read.
    assert store.get_file(version.manifest["files"][0]["sha256"])


def test_corrupted_manifest_is_detected(store: ObjectStore, version: Materialized) -> None:
    store.put_version(version)
    path = store.manifest_path(version.digest)
    store.fs.pipe_file(path, store.fs.cat_file(path).replace(b'"version":3', b'"version":2'))
    with pytest.raises(IntegrityError):
        store.get_manifest(version.digest)
    with pytest.raises(IntegrityError):
        store.open_version(version.digest)


def test_truncated_blob_is_rewritten_on_put(store: ObjectStore, version: Materialized) -> None:
    store.put_version(version)
    sha = version.manifest["files"][0]["sha256"]
    store.fs.pipe_file(store.blob_path(sha), b"half a blob")
    store.put_version(version)
    assert store.get_file(sha) == version.files[version.manifest["files"][0]["path"]]


def test_missing_objects_and_bad_addresses(store: ObjectStore, version: Materialized) -> None:
    absent = hashlib.sha256(b"nothing").hexdigest()
    with pytest.raises(FileNotFoundError):
        store.get_file(absent)
    with pytest.raises(FileNotFoundError):
        store.get_manifest(absent)
    assert not store.has_version(absent)
    for bad in ("../../etc/passwd", "ABC", absent.upper(), absent[:-1], f"{absent}/x"):
        with pytest.raises(ValueError):
            store.get_file(bad)
        with pytest.raises(ValueError):
            store.open_version(bad)


def test_inconsistent_version_is_not_stored(store: ObjectStore, version: Materialized) -> None:
    path = version.manifest["files"][0]["path"]
    tampered = Materialized(
        files={**version.files, path: version.files[path] + b"x"},
        manifest=version.manifest,
        digest=version.digest,
    )
    with pytest.raises(IntegrityError):
        store.put_version(tampered)
    wrong_digest = Materialized(files=version.files, manifest=version.manifest, digest="0" * 64)
    with pytest.raises(IntegrityError):
        store.put_version(wrong_digest)
    missing = {p: b for p, b in version.files.items() if p != path}
    with pytest.raises(ValueError):
        store.put_version(Materialized(missing, version.manifest, version.digest))
    no_manifest = {p: b for p, b in version.files.items() if p != MANIFEST_PATH}
    with pytest.raises(IntegrityError):
        store.put_version(Materialized(no_manifest, version.manifest, version.digest))
    assert stored_files(store) == []


def test_local_crash_leaves_no_partial_blob(
    tmp_path: Path, version: Materialized, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure before the rename leaves neither the final name nor the temp file."""
    s = ObjectStore((tmp_path / "crash").as_uri())

    def crash(src: str, dst: str) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        s.put_version(version)
    monkeypatch.undo()
    leftovers = [p for p in Path(tmp_path / "crash").rglob("*") if p.is_file()]
    assert leftovers == []
    assert not s.has_version(version.digest)
    # A later put completes normally; no temp names remain.
    s.put_version(version)
    names = [p.name for p in Path(tmp_path / "crash").rglob("*") if p.is_file()]
    assert not any(".tmp-" in n for n in names)
    assert s.open_version(version.digest).num_rows == version.manifest["row_count"]

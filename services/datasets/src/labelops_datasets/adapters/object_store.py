"""Content-addressed storage of dataset versions, over fsspec (local folder, s3://, memory://).

Layout under the store's root::

    blobs/sha256/<first 2 hex>/<sha256>      one blob per distinct data file (by content)
    versions/<digest>/manifest.json           the version's manifest; digest = its sha256

A data file is stored once however many versions contain it (versions that share their first
rows share their first files). The manifest names every file by sha256, so the manifest's
own sha256 addresses the whole version: same digest, same rows, byte for byte.

Writes never leave a partial object under its final name. On a local filesystem a blob is
written to a temporary name in the same directory, fsynced and renamed (``os.replace`` is
atomic); object stores (s3, memory) make an object visible only once its upload completes, so
it is written in place (a copy + delete "move" there would double the upload for nothing).
Blobs are written before the manifest: a manifest that exists has all its blobs. Reads verify
every byte against its address and raise ``IntegrityError`` on a mismatch.

The store does no locking: two writers of one version write the same bytes to the same names.

Two ways in: ``put_version`` stores a ``Materialized`` (all its bytes in memory); a version
assembled from segment files (``materialize.assemble``) is stored with ``put_blob`` for each
new file (reused files are already stored), then ``put_manifest``, which checks that every
file it lists is stored before writing it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from typing import Any

import fsspec
import pyarrow as pa
from fsspec.implementations.local import LocalFileSystem

from ..domain.materialize import MANIFEST_PATH, Materialized, read_version

__all__ = ["IntegrityError", "ObjectStore"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


class IntegrityError(ValueError):
    """Stored bytes do not match the sha256 they are addressed by."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_address(value: str) -> str:
    # Also keeps caller-supplied addresses from being path fragments ("../", "/").
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValueError(f"not a sha256 hex digest: {value!r}")
    return value


class ObjectStore:
    """Content-addressed version storage under one fsspec URL.

    ``url``: "file:///path", a plain local path, "s3://bucket/prefix", "memory://name", or any
    other fsspec URL; ``storage_options`` go to the filesystem (credentials, endpoint, ...).
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.fs = fs
        self.root: str = root.rstrip("/")
        # Only a local filesystem offers (and needs) write-to-temp + atomic rename.
        self._local = isinstance(fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"ObjectStore({self.fs.unstrip_protocol(self.root or '/')!r})"

    # ---------------------------------------------------------------------------------------
    # Paths

    def blob_path(self, sha256: str) -> str:
        """Filesystem path of the blob with this sha256."""
        sha256 = _check_address(sha256)
        return f"{self.root}/blobs/sha256/{sha256[:2]}/{sha256}"

    def manifest_path(self, digest: str) -> str:
        """Filesystem path of the manifest of the version with this digest."""
        return f"{self.root}/versions/{_check_address(digest)}/manifest.json"

    def manifest_url(self, digest: str) -> str:
        """The manifest's full URL (with protocol), as ``put_version`` returns it."""
        return str(self.fs.unstrip_protocol(self.manifest_path(digest)))

    # ---------------------------------------------------------------------------------------
    # Writing

    def put_version(self, m: Materialized) -> str:
        """Store a version's blobs, then its manifest; returns the manifest's URL.

        Idempotent: an object already present with the expected size is not written again,
        so putting a version twice, or a version sharing files with a stored one, uploads only
        what is new. ``m`` is checked first (every file against the manifest's sha256, the
        manifest against ``m.digest``): nothing is written for an inconsistent version.
        """
        manifest_bytes = m.files.get(MANIFEST_PATH)
        if manifest_bytes is None or _sha256(manifest_bytes) != m.digest:
            raise IntegrityError(f"manifest.json does not match the version digest {m.digest}")
        entries = _manifest_files(manifest_bytes)
        blobs: list[tuple[str, bytes]] = []
        for entry in entries:
            data = m.files.get(entry["path"])
            if data is None:
                raise ValueError(f"version {m.digest} is missing its file {entry['path']}")
            if _sha256(data) != entry["sha256"]:
                raise IntegrityError(f"{entry['path']} does not match sha256 {entry['sha256']}")
            blobs.append((self.blob_path(entry["sha256"]), data))
        for path, data in blobs:
            self._put(path, data)
        # Last: the manifest is the commit point, present only once every blob is.
        return self.put_manifest(manifest_bytes, m.digest, check_blobs=False)

    def put_blob(self, data: bytes, sha256: str | None = None) -> str:
        """Store one data file under its sha256 (idempotent, like ``put_version``); return it.

        ``sha256``, when given (e.g. ``SegmentFile.sha256``), is checked against the bytes:
        ``IntegrityError`` and nothing written on a mismatch.
        """
        digest = _sha256(data)
        if sha256 is not None and _check_address(sha256) != digest:
            raise IntegrityError(f"blob bytes do not match sha256 {sha256}")
        self._put(self.blob_path(digest), data)
        return digest

    def put_manifest(
        self, manifest_bytes: bytes, digest: str | None = None, *, check_blobs: bool = True
    ) -> str:
        """Store a version's manifest, its blobs being stored already; return its URL.

        ``digest`` (e.g. from ``assemble``), when given, is checked against the bytes
        (``IntegrityError``). With ``check_blobs`` every file the manifest lists must be stored
        with its size (one size query per file), else ValueError and nothing is written: a
        manifest that exists has all its blobs. Pass ``check_blobs=False`` only right after
        putting the blobs yourself. Idempotent.
        """
        actual = _sha256(manifest_bytes)
        if digest is not None and _check_address(digest) != actual:
            raise IntegrityError(f"manifest bytes do not match the version digest {digest}")
        entries = _manifest_files(manifest_bytes)
        if check_blobs:
            for entry in entries:
                try:
                    size = self.fs.size(self.blob_path(entry["sha256"]))
                except FileNotFoundError:
                    size = None
                if size != entry["bytes"]:
                    raise ValueError(
                        f"{entry['path']} (blob {entry['sha256']}) is not stored: put_blob first"
                    )
        self._put(self.manifest_path(actual), manifest_bytes)
        return self.manifest_url(actual)

    def _put(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` unless an object of that size is already there.

        Content addressing makes equal size a sufficient check for "already stored" against
        everything but corruption, which reads detect; a wrong size (e.g. a blob truncated by
        a non-atomic tool) is rewritten.
        """
        try:
            if self.fs.size(path) == len(data):
                return
        except FileNotFoundError:
            pass
        if not self._local:
            self.fs.pipe_file(path, data)
            return
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temp = f"{path}.tmp-{uuid.uuid4().hex}"
        try:
            with open(temp, "wb") as f:
                f.write(data)
                f.flush()
                # Durable before it is visible: a crash after the rename must not expose an
                # empty or short file under the final name.
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)
            raise
        _fsync_dir(directory)

    # ---------------------------------------------------------------------------------------
    # Reading

    def has_version(self, digest: str) -> bool:
        """Whether the version's manifest is stored (and so, all its blobs)."""
        return bool(self.fs.exists(self.manifest_path(digest)))

    def get_file(self, sha256: str) -> bytes:
        """The blob's bytes, verified; ``IntegrityError`` if they do not hash to ``sha256``.

        ``FileNotFoundError`` if there is no such blob.
        """
        data: bytes = self.fs.cat_file(self.blob_path(sha256))
        if _sha256(data) != sha256:
            raise IntegrityError(f"blob {sha256} is corrupted (its bytes hash differently)")
        return data

    def has_blob(self, sha256: str) -> bool:
        """Whether a blob with this sha256 is stored (not verified: ``get_file`` verifies)."""
        return bool(self.fs.exists(self.blob_path(sha256)))

    def manifest_bytes(self, digest: str) -> bytes:
        """The version's manifest.json bytes, verified against ``digest``."""
        data: bytes = self.fs.cat_file(self.manifest_path(digest))
        if _sha256(data) != digest:
            raise IntegrityError(f"manifest of version {digest} is corrupted")
        return data

    def get_manifest(self, digest: str) -> dict[str, Any]:
        """The version's manifest, verified against ``digest``."""
        manifest: dict[str, Any] = json.loads(self.manifest_bytes(digest))
        return manifest

    def open_version(self, digest: str) -> pa.Table:
        """The version's rows (``rows.SCHEMA``, as ``read_version``), every file verified."""
        manifest_bytes = self.manifest_bytes(digest)
        files = {MANIFEST_PATH: manifest_bytes}
        for entry in json.loads(manifest_bytes)["files"]:
            files[entry["path"]] = self.get_file(entry["sha256"])
        # Each blob was just verified; hashing it again in read_version would be wasted work.
        return read_version(files, verify=False)


def _manifest_files(manifest_bytes: bytes) -> list[dict[str, Any]]:
    """The ``files`` entries of a manifest; ValueError if it is not one."""
    try:
        files = json.loads(manifest_bytes)["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"not a version manifest: {e}") from e
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and {"path", "sha256", "bytes"} <= f.keys() for f in files
    ):
        raise ValueError("not a version manifest: malformed files")
    return files


def _fsync_dir(directory: str) -> None:
    """Persist a rename (the directory entry); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

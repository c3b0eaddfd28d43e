"""Reading a dataset version's files from its content-addressed store (fsspec), in chunks.

The datasets service writes ``blobs/sha256/<2 hex>/<sha256>`` and
``versions/<digest>/manifest.json`` under one root and reports the manifest's full URL; the
root is that URL without ``/versions/<digest>/manifest.json`` (or ``datasets_store_url`` when
the gateway reaches the same store under another name, e.g. a different mount point). Files
are found through the manifest the service returned (checked against the version's
``manifest_sha256``) and verified against their sha256 while they stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import fsspec
from labelops_core.errors import DomainError, NotFound, Unavailable

_SHA256 = re.compile(r"[0-9a-f]{64}")
_MANIFEST_SUFFIX = re.compile(r"/versions/[0-9a-f]{64}/manifest\.json$")


class StoreIntegrityError(DomainError):
    """Stored bytes do not hash to their address (500: the store is damaged)."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int


def manifest_files(manifest_json: bytes, manifest_sha256: str) -> dict[str, FileEntry]:
    """The files a manifest lists, by path; StoreIntegrityError when the manifest is not the
    one the version names."""
    if hashlib.sha256(manifest_json).hexdigest() != manifest_sha256:
        raise StoreIntegrityError("the version's manifest does not match its sha256")
    try:
        files = json.loads(manifest_json)["files"]
        entries = {
            f["path"]: FileEntry(str(f["path"]), str(f["sha256"]), int(f["bytes"])) for f in files
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreIntegrityError(f"the version's manifest is malformed: {exc}") from None
    if not all(_SHA256.fullmatch(e.sha256) for e in entries.values()):
        raise StoreIntegrityError("the version's manifest names a file by a malformed sha256")
    return entries


def store_root(manifest_uri: str, override: str = "") -> str:
    """The store's root URL for a version whose manifest lives at ``manifest_uri``."""
    if override:
        return override.rstrip("/")
    root, n = _MANIFEST_SUFFIX.subn("", manifest_uri)
    if n != 1:
        raise Unavailable(
            "the version's store location is not recognized;"
            " set LABELOPS_GATEWAY_DATASETS_STORE_URL",
            reason="STORE_UNKNOWN",
        )
    return root


class BlobReader:
    """One blob, opened and size-checked before the response starts, streamed in chunks."""

    def __init__(self, root: str, entry: FileEntry, chunk_bytes: int) -> None:
        self.entry = entry
        self.chunk_bytes = chunk_bytes
        fs, base = fsspec.core.url_to_fs(root)
        self._fs: Any = fs
        self._path = f"{base.rstrip('/')}/blobs/sha256/{entry.sha256[:2]}/{entry.sha256}"
        self._file: Any = None

    async def open(self) -> None:
        """Open the blob; Unavailable when the gateway cannot see it (another machine's folder,
        no credentials for the bucket), StoreIntegrityError when its size is wrong."""
        try:
            size = await asyncio.to_thread(self._fs.size, self._path)
            self._file = await asyncio.to_thread(self._fs.open, self._path, "rb")
        except (FileNotFoundError, PermissionError, OSError) as exc:
            raise Unavailable(
                f"file {self.entry.path} is not readable from the gateway ({type(exc).__name__})",
                reason="STORE_UNREACHABLE",
                metadata={"path": self.entry.path},
            ) from None
        if size != self.entry.size:
            await self.close()
            raise StoreIntegrityError(
                f"blob {self.entry.sha256} has {size} bytes, the manifest says {self.entry.size}"
            )

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes, in chunks; raises StoreIntegrityError at the end if they do not hash to
        the address (the response is then cut short of its Content-Length, so the client
        knows)."""
        if self._file is None:
            raise NotFound(f"{self.entry.path} is not open", reason="FILE_NOT_OPEN")
        digest = hashlib.sha256()
        try:
            while True:
                chunk: bytes = await asyncio.to_thread(self._file.read, self.chunk_bytes)
                if not chunk:
                    break
                digest.update(chunk)
                yield chunk
        finally:
            # Also when the client went away mid-download (cancellation): close regardless.
            with anyio.CancelScope(shield=True):
                await self.close()
        if digest.hexdigest() != self.entry.sha256:
            raise StoreIntegrityError(f"blob {self.entry.sha256} is corrupted")

    async def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            await asyncio.to_thread(file.close)

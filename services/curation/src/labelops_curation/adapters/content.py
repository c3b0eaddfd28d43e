"""Reading item content the service is allowed to read, and checking it against the caller.

The service reads ``data:`` URIs, inline text, and ``file://`` URIs under the configured roots
(``LABELOPS_CURATION_FILE_ROOTS``; none by default, so a request cannot make the service read
arbitrary files). Roots and paths are compared after resolving symlinks: a link inside a root
that leads outside it is INVALID_ARGUMENT on ``items[i].uri``. Other schemes (s3://, gs://,
http(s)://) are registered as given: their items
get vectors from the caller or from an external embedder, which fetches the URI itself.

What is read is checked: a given checksum must match the bytes (else INVALID_CHECKSUM on
``items[i].checksum``), a missing one is computed (sha256), so exact duplicates are found by
content; a ``file://`` URI under a root that does not exist is ``items[i].uri`` "no such file".
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

from labelops.curation.v1 import curation_pb2 as pb

from ..domain.items import parse_uri
from ..domain.registration import Content

__all__ = ["Content", "ContentError", "ContentReader"]


class ContentError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _digest(algorithm: str, data: bytes) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class ContentReader:
    """Reads item content within the allowed roots (blocking; call it from a thread).

    Args:
        roots: directories whose files may be read through ``file://`` URIs.
        max_bytes: larger files are not read (registered without content checks or vectors).
    """

    def __init__(self, roots: Sequence[str | Path] = (), *, max_bytes: int = 64 * 1024 * 1024):
        self.roots = [Path(r).resolve() for r in roots]
        # As configured, for the lexical check (a root may itself be a link, e.g. /tmp).
        self._given = [Path(os.path.normpath(os.path.abspath(r))) for r in roots]
        self.max_bytes = max_bytes

    def _allowed(self, path: Path, roots: Sequence[Path] | None = None) -> bool:
        return any(path == r or r in path.parents for r in (self.roots if roots is None else roots))

    def _read_file(self, given: str, raw_path: str) -> bytes | None:
        """The bytes of a file under a root (None outside the roots or above ``max_bytes``).

        Containment is checked on the real path, symlinks resolved (``os.path.realpath``): a
        link inside a root that points outside it (to /etc/passwd, say) is refused, not read,
        and neither its size nor its hash is revealed.
        """
        path = Path(os.path.normpath(raw_path))
        if not (self._allowed(path) or self._allowed(path, self._given)):
            return None
        real = Path(os.path.realpath(path))
        if not self._allowed(real):
            raise ContentError("uri", f"{given!r} resolves outside the allowed file roots")
        if not real.is_file():
            raise ContentError("uri", f"{given!r}: no such file")
        if real.stat().st_size > self.max_bytes:
            return None
        return real.read_bytes()

    def read(self, spec: pb.ItemSpec) -> Content:
        """Content of one item spec; raises ContentError(field, message) for bad input."""
        data: bytes | None = None
        if spec.text:
            data = spec.text.encode()
        else:
            uri = parse_uri(spec.uri)
            if uri.data is not None:
                data = uri.data
            elif uri.path is not None:
                data = self._read_file(spec.uri, uri.path)
        if data is None:
            return Content()
        checksum = _digest("sha256", data)
        if spec.checksum:
            algorithm = spec.checksum.split(":", 1)[0]
            actual = checksum if algorithm == "sha256" else _digest(algorithm, data)
            if actual != spec.checksum:
                raise ContentError(
                    "checksum", f"{spec.checksum} does not match the content ({actual})"
                )
            checksum = spec.checksum
        if spec.size_bytes and not spec.text and spec.size_bytes != len(data):
            raise ContentError(
                "size_bytes", f"is {spec.size_bytes} but the content has {len(data)} bytes"
            )
        text: str | None = None
        width = height = 0
        phash = ""
        if spec.modality == pb.MODALITY_TEXT:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ContentError("uri", f"text content is not UTF-8: {exc}") from exc
        elif spec.modality == pb.MODALITY_IMAGE:
            width, height, phash = _probe_image(data)
        return Content(data, text, checksum, len(data), width, height, phash)


def _probe_image(data: bytes) -> tuple[int, int, str]:
    from PIL import Image, UnidentifiedImageError

    from .embedders.image import perceptual_hash

    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            im.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ContentError("uri", f"content is not a readable image: {exc}") from exc
    return width, height, perceptual_hash(data)

"""Items and datasets as the curation domain sees them: ids, validation rules, limits (no I/O).

Validation collects every problem of a batch as field violations (``items[i].uri``, counted
from the start of the import stream) so a caller can fix them all at once; a batch with any
violation is refused as a whole.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes, urlsplit

from labelops.curation.v1 import curation_pb2 as pb
from labelops_core.context import DEFAULT_TENANT
from labelops_core.errors import FieldViolation, InvalidArgument, ViolationCollector

#: Namespace of item ids (``item_id_for``).
ITEM_NAMESPACE: Final = uuid.UUID("6f1d2c1e-6a53-5c1b-9a55-3b0f1c8e4d21")

DATASET_ID_RE: Final = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
VECTOR_SPACE_RE: Final = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: Vector space of caller-supplied vectors.
CUSTOM_SPACE: Final = "custom"

URI_SCHEMES: Final = frozenset({"file", "s3", "gs", "gcs", "az", "abfs", "http", "https", "data"})
#: Schemes whose URI must name a host / bucket.
NETLOC_SCHEMES: Final = frozenset({"s3", "gs", "gcs", "az", "abfs", "http", "https"})
CHECKSUM_RE: Final = re.compile(r"^(sha256:[0-9a-f]{64}|md5:[0-9a-f]{32})$")

MAX_ITEMS_PER_MESSAGE: Final = 1000
MAX_EXTERNAL_ID_CHARS: Final = 256
MAX_URI_CHARS: Final = 4096
MAX_TEXT_BYTES: Final = 64 * 1024
MAX_METADATA_ENTRIES: Final = 64
MAX_METADATA_KEY_CHARS: Final = 128
MAX_METADATA_VALUE_CHARS: Final = 2048
MAX_VECTOR_DIM: Final = 8192
MAX_DATA_URI_BYTES: Final = 256 * 1024

MODALITY_NAMES: Final[dict[int, str]] = {
    pb.MODALITY_IMAGE: "image",
    pb.MODALITY_VIDEO: "video",
    pb.MODALITY_TEXT: "text",
    pb.MODALITY_AUDIO: "audio",
    pb.MODALITY_DICOM: "dicom",
}

#: Reasons that may go with each decision.
INCLUDE_REASONS: Final = frozenset(
    {
        pb.CURATION_REASON_EDGE_CASE,
        pb.CURATION_REASON_REPRESENTATIVE,
        pb.CURATION_REASON_AUTO,
        pb.CURATION_REASON_MANUAL,
        pb.CURATION_REASON_OTHER,
    }
)
EXCLUDE_REASONS: Final = frozenset(
    {
        pb.CURATION_REASON_DUPLICATE,
        pb.CURATION_REASON_NEAR_DUPLICATE,
        pb.CURATION_REASON_OUT_OF_SCOPE,
        pb.CURATION_REASON_LOW_QUALITY,
        pb.CURATION_REASON_SENSITIVE,
        pb.CURATION_REASON_CORRUPT,
        pb.CURATION_REASON_MANUAL,
        pb.CURATION_REASON_OTHER,
    }
)


def item_id_for(dataset_id: str, external_id: str, tenant_id: str = DEFAULT_TENANT) -> str:
    """The item id of (tenant, dataset, external id): the same on every registration and
    replica, and never another tenant's (two tenants may both have dataset ``d`` with item
    ``a``).

    ``uuid5(ITEM_NAMESPACE, "{dataset_id}/{external_id}")`` for tenant ``default`` (the ids
    items had before tenants), else of ``"{len(tenant)}:{tenant}/{dataset_id}/{external_id}"``:
    the length prefix keeps the tenant from running into the dataset id, and the leading digit
    from looking like a default name (dataset ids start with a letter).
    """
    if tenant_id == DEFAULT_TENANT:
        return str(uuid.uuid5(ITEM_NAMESPACE, f"{dataset_id}/{external_id}"))
    name = f"{len(tenant_id)}:{tenant_id}/{dataset_id}/{external_id}"
    return str(uuid.uuid5(ITEM_NAMESPACE, name))


def check_dataset_id(dataset_id: str, field: str = "dataset_id") -> None:
    if not DATASET_ID_RE.match(dataset_id or ""):
        raise InvalidArgument(
            f"dataset id {dataset_id!r} is not valid",
            [FieldViolation(field, "must match [a-z][a-z0-9-]{0,62}")],
        )


@dataclass(frozen=True)
class ParsedUri:
    scheme: str
    #: Inline bytes of a ``data:`` URI.
    data: bytes | None = None
    #: Local path of a ``file:`` URI.
    path: str | None = None


def parse_uri(uri: str) -> ParsedUri:
    """Parse and check a content URI; ``ValueError`` says what is wrong."""
    if not uri:
        raise ValueError("is required")
    if len(uri) > MAX_URI_CHARS:
        raise ValueError(f"is longer than {MAX_URI_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in uri):
        raise ValueError("contains whitespace or control characters (percent-encode them)")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValueError(f"has no scheme; use one of {', '.join(sorted(URI_SCHEMES))}")
    if scheme not in URI_SCHEMES:
        raise ValueError(f"scheme {scheme!r} is not supported; use one of {sorted(URI_SCHEMES)}")
    if scheme in NETLOC_SCHEMES and not parts.netloc:
        raise ValueError(f"a {scheme}:// URI needs a host or bucket")
    if scheme in NETLOC_SCHEMES and not parts.path.strip("/"):
        raise ValueError("names no object (empty path)")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError("file:// URIs must be local (file:///path)")
        if not parts.path.startswith("/"):
            raise ValueError("file:// URIs need an absolute path")
        return ParsedUri(scheme, path=unquote_to_bytes(parts.path).decode("utf-8", "replace"))
    if scheme == "data":
        return ParsedUri(scheme, data=_parse_data_uri(uri))
    return ParsedUri(scheme)


def _parse_data_uri(uri: str) -> bytes:
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise ValueError("data: URI has no ',' before its payload")
    if header.endswith(";base64"):
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("data: URI payload is not valid base64") from exc
    else:
        data = unquote_to_bytes(payload)
    if len(data) > MAX_DATA_URI_BYTES:
        raise ValueError(f"data: URI holds more than {MAX_DATA_URI_BYTES} bytes; use a file")
    return data


@dataclass(frozen=True)
class DatasetPolicy:
    """What a dataset accepts (from its DatasetCreated event)."""

    dataset_id: str
    embedders: tuple[str, ...]
    custom_vector_dim: int
    auto_include: bool
    near_duplicate_threshold: float
    #: The dataset's tenant (the read model always names it; its item ids depend on it).
    tenant_id: str = DEFAULT_TENANT


def validate_specs(
    specs: Sequence[pb.ItemSpec], policy: DatasetPolicy, *, offset: int = 0
) -> list[FieldViolation]:
    """Every problem of a batch of item specs (empty when the batch is valid).

    ``offset``: index of the first spec in the whole import, for violation paths.
    """
    v = ViolationCollector()
    if len(specs) > MAX_ITEMS_PER_MESSAGE:
        v.add("items", f"at most {MAX_ITEMS_PER_MESSAGE} items per message")
        return v.violations
    seen: dict[str, int] = {}
    for k, spec in enumerate(specs):
        p = f"items[{offset + k}]"
        _validate_spec(v, p, spec, policy)
        if spec.external_id in seen:
            v.add(
                f"{p}.external_id",
                f"repeats items[{offset + seen[spec.external_id]}] in the same message",
            )
        else:
            seen[spec.external_id] = k
    return v.violations


def _validate_spec(v: ViolationCollector, p: str, spec: pb.ItemSpec, policy: DatasetPolicy) -> None:
    if not spec.external_id:
        v.add(f"{p}.external_id", "is required")
    elif len(spec.external_id) > MAX_EXTERNAL_ID_CHARS:
        v.add(f"{p}.external_id", f"longer than {MAX_EXTERNAL_ID_CHARS} characters")
    elif any(ord(c) < 32 for c in spec.external_id):
        v.add(f"{p}.external_id", "contains control characters")
    try:
        parse_uri(spec.uri)
    except ValueError as exc:
        v.add(f"{p}.uri", f"{spec.uri[:200]!r} {exc}")
    if spec.modality not in MODALITY_NAMES:
        v.add(f"{p}.modality", "is required (image, video, text, audio or dicom)")
    if spec.checksum and not CHECKSUM_RE.match(spec.checksum):
        v.add(
            f"{p}.checksum",
            f"{spec.checksum[:80]!r} is not 'sha256:<64 lowercase hex>' or 'md5:<32 hex>'",
        )
    for fname in ("size_bytes", "width", "height", "duration_ms"):
        if getattr(spec, fname) < 0:
            v.add(f"{p}.{fname}", "must not be negative")
    if (spec.width > 0) != (spec.height > 0):
        v.add(f"{p}.height" if spec.width else f"{p}.width", "give width and height together")
    if spec.duration_ms and spec.modality in (pb.MODALITY_IMAGE, pb.MODALITY_TEXT):
        v.add(f"{p}.duration_ms", "only video and audio items have a duration")
    if spec.text:
        if spec.modality != pb.MODALITY_TEXT:
            v.add(f"{p}.text", "inline text is for text items only")
        elif len(spec.text.encode()) > MAX_TEXT_BYTES:
            v.add(f"{p}.text", f"more than {MAX_TEXT_BYTES} bytes; use a file URI")
    if len(spec.metadata) > MAX_METADATA_ENTRIES:
        v.add(f"{p}.metadata", f"more than {MAX_METADATA_ENTRIES} entries")
    for key, value in spec.metadata.items():
        if not key or len(key) > MAX_METADATA_KEY_CHARS:
            v.add(f"{p}.metadata[{key[:40]!r}]", f"keys are 1..{MAX_METADATA_KEY_CHARS} chars")
        if len(value) > MAX_METADATA_VALUE_CHARS:
            v.add(f"{p}.metadata[{key[:40]!r}]", f"longer than {MAX_METADATA_VALUE_CHARS} chars")
    if spec.embedding:
        dim = len(spec.embedding)
        if policy.custom_vector_dim == 0:
            v.add(
                f"{p}.embedding",
                f"dataset {policy.dataset_id} accepts no caller-supplied vectors"
                " (custom_vector_dim is 0)",
            )
        elif dim != policy.custom_vector_dim:
            v.add(
                f"{p}.embedding",
                f"has {dim} values; dataset {policy.dataset_id} expects {policy.custom_vector_dim}",
            )
        elif not all(math.isfinite(x) for x in spec.embedding):
            v.add(f"{p}.embedding", "contains NaN or infinity")
        elif not any(spec.embedding):
            v.add(f"{p}.embedding", "is all zeros (no direction)")

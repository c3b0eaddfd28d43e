"""Opaque page tokens (AIP-158) shared by every List RPC.

A token is URL-safe base64 of a small JSON object: the cursor (the last row's sort key) and a
fingerprint of the request fields that must not change between pages. A malformed token, or one
issued for other filters, is INVALID_ARGUMENT on ``page_token``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from labelops_core.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(
    requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    """The page size to use: ``default`` for 0, capped at ``maximum``; negative is invalid."""
    if requested < 0:
        raise InvalidArgument(
            "page_size must not be negative", [FieldViolation("page_size", "must be >= 0")]
        )
    return min(requested or default, maximum)


def filter_fingerprint(*parts: Any) -> str:
    """A short digest of the request fields a token is bound to."""
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def encode_token(cursor: Any, bound_to: str = "") -> str:
    raw = json.dumps({"c": cursor, "f": bound_to}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, bound_to: str = "") -> Any:
    """The cursor of ``token``; raises InvalidArgument if it is malformed or was issued for a
    request with other filters."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor, issued_for = data["c"], data["f"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidArgument(
            "page_token is not one this server issued",
            [FieldViolation("page_token", "malformed: pass next_page_token unchanged")],
        ) from exc
    if issued_for != bound_to:
        raise InvalidArgument(
            "page_token was issued for a request with other filters",
            [FieldViolation("page_token", "filters must not change between pages")],
        )
    return cursor

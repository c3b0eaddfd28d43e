"""Identifiers."""

from __future__ import annotations

import uuid

import uuid6


def uuid7() -> uuid.UUID:
    """A new UUIDv7: time-ordered, so ids sort by creation and index well in Postgres."""
    return uuid.UUID(bytes=uuid6.uuid7().bytes)


def new_id() -> str:
    """A new UUIDv7 as its canonical string."""
    return str(uuid7())

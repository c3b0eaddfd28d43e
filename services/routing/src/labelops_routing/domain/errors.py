"""Errors of the routing domain.

Validation functions return ``list[FieldViolation]`` (empty = valid) so a caller can merge the
problems of several parts of a request into one ``InvalidArgument``; the shared error types of
``labelops_core.errors`` are re-exported here so domain modules import them from one place.
"""

from __future__ import annotations

from labelops_core.errors import FailedPrecondition, FieldViolation, InvalidArgument

__all__ = ["FailedPrecondition", "FieldViolation", "InvalidArgument", "violation"]


def violation(field: str, description: str) -> FieldViolation:
    """One field violation; ``field`` is a dotted path such as ``rules[2].pools[0]``."""
    return FieldViolation(field, description)

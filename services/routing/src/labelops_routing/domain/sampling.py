"""Deterministic pseudo-random draws for sampling decisions (overlap, gold slots).

Decisions must be reproducible: replaying events, retrying a request or running on another
replica has to reach the same answer, so nothing here uses ``random`` or Python's ``hash()``
(which is salted per process for str).
"""

from __future__ import annotations

import hashlib
from typing import Final

#: ASCII unit separator: unlikely inside ids, so ("ab", "c") and ("a", "bc") hash differently.
SEPARATOR: Final = "\x1f"

_MANTISSA_BITS: Final = 53


def unit_hash(*parts: str) -> float:
    """A uniform number in [0, 1) determined only by ``parts``.

    The parts are joined with ``"\\x1f"``, UTF-8 encoded and hashed with BLAKE2b, so the value
    is the same across processes, machines and Python versions.
    """
    digest = hashlib.blake2b(SEPARATOR.join(parts).encode("utf-8"), digest_size=8).digest()
    # Keep only the top 53 bits: a float holds 53 bits of mantissa, and dividing the full
    # 64-bit value by 2**64 could round up to exactly 1.0, breaking ``u < rate`` at rate 1.
    bits = int.from_bytes(digest, "big") >> (64 - _MANTISSA_BITS)
    return bits / float(1 << _MANTISSA_BITS)

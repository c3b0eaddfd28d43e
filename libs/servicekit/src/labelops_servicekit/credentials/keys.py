"""API keys: the ``lok_<key_id>_<secret>`` format and the stored digest.

``key_id`` (16 hex characters) is public: it names the key in lists, logs and the admin API.
``secret`` is 32 random bytes (URL-safe base64). Only ``sha256(secret)`` is stored. A fast,
unsalted hash is the right choice here, unlike for passwords: a 256-bit random secret has no
dictionary to attack and cannot be brute-forced, so a slow KDF (bcrypt, argon2) would add
nothing but cost to every authenticated call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "lok_"
SECRET_BYTES = 32
_KEY = re.compile(r"^lok_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def new_key_id() -> str:
    """A fresh public key id (64 random bits, hex)."""
    return secrets.token_hex(8)


def new_secret() -> str:
    """A fresh secret: 32 random bytes, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def format_key(key_id: str, secret: str) -> str:
    """The key as the client sends it (``x-api-key``)."""
    return f"{PREFIX}{key_id}_{secret}"


def parse_key(api_key: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None (not one of ours)."""
    m = _KEY.match(api_key)
    return (m.group(1), m.group(2)) if m else None


def secret_digest(secret: str) -> bytes:
    """What is stored of a secret (see the module docstring for why sha256)."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def secret_matches(secret: str, digest: bytes) -> bool:
    """Whether ``secret`` is the one ``digest`` was made of, in constant time."""
    return hmac.compare_digest(secret_digest(secret), digest)

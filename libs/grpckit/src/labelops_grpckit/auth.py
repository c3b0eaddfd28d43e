"""Who is calling: API keys (``x-api-key``) and HS256 bearer JWTs → ``labelops_core`` Principal.

Configuration (see :meth:`Authenticator.from_env`):

- ``LABELOPS_API_KEYS``: JSON object ``{"<key>": {"subject", "tenant_id", "kind", "roles",
  "vendor_id"}}``; ``LABELOPS_API_KEYS_FILE``: path to a file with the same JSON (both may be
  set; a key defined in both is an error).
- ``LABELOPS_JWT_SECRET`` (at least 32 bytes), optional ``LABELOPS_JWT_ISSUER`` and
  ``LABELOPS_JWT_AUDIENCE``.

Every failure raises ``labelops_core.errors.Unauthenticated`` with a specific reason, which the
server interceptor maps to UNAUTHENTICATED.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt
from labelops_core.context import Principal
from labelops_core.errors import Unauthenticated

API_KEY_HEADER = "x-api-key"
AUTHORIZATION_HEADER = "authorization"

#: The envelope's actor kinds; a credential naming any other kind is rejected.
PRINCIPAL_KINDS = frozenset({"user", "vendor", "model", "service"})

#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_JWT_SECRET_BYTES = 32

_API_KEY_FIELDS = frozenset({"subject", "tenant_id", "kind", "roles", "vendor_id"})

# ErrorInfo reasons, so clients can tell "log in again" from "fix your configuration".
REASON_MISSING = "CREDENTIALS_MISSING"
REASON_AMBIGUOUS = "CREDENTIALS_AMBIGUOUS"
REASON_API_KEY_INVALID = "API_KEY_INVALID"
REASON_TOKEN_INVALID = "TOKEN_INVALID"
REASON_TOKEN_EXPIRED = "TOKEN_EXPIRED"


def principal_from_fields(fields: Mapping[str, Any]) -> Principal:
    """A Principal from API-key style fields; raises ValueError naming what is wrong.

    ``subject`` and ``tenant_id`` are required, ``kind`` defaults to "user", ``roles`` is a
    list of strings, and a ``vendor`` principal must carry ``vendor_id`` (its work is filtered
    by it, so a vendor without one would fail open).
    """
    unknown = set(fields) - _API_KEY_FIELDS
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; allowed: {sorted(_API_KEY_FIELDS)}")
    subject = fields.get("subject")
    tenant_id = fields.get("tenant_id")
    kind = fields.get("kind", "user")
    roles = fields.get("roles", [])
    vendor_id = fields.get("vendor_id")
    return _principal(subject, tenant_id, kind, roles, vendor_id)


def _principal(subject: Any, tenant_id: Any, kind: Any, roles: Any, vendor_id: Any) -> Principal:
    if not isinstance(subject, str) or not subject:
        raise ValueError("subject must be a non-empty string")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError("tenant_id must be a non-empty string")
    if kind not in PRINCIPAL_KINDS:
        raise ValueError(f"kind must be one of {sorted(PRINCIPAL_KINDS)}")
    if isinstance(roles, str):
        # OAuth-style "scope" strings are space separated.
        roles = roles.split()
    if not isinstance(roles, list | tuple | set | frozenset) or not all(
        isinstance(r, str) for r in roles
    ):
        raise ValueError("roles must be a list of strings")
    if vendor_id is not None and (not isinstance(vendor_id, str) or not vendor_id):
        raise ValueError("vendor_id must be a non-empty string")
    if kind == "vendor" and vendor_id is None:
        raise ValueError("a vendor principal needs vendor_id")
    return Principal(
        subject=subject,
        tenant_id=tenant_id,
        kind=kind,
        roles=frozenset(roles),
        vendor_id=vendor_id,
    )


def _digest(api_key: str) -> bytes:
    # Keys are looked up by digest: the dict lookup then reveals nothing usable about the
    # real keys through timing, and no plaintext key stays in memory longer than needed.
    return hashlib.sha256(api_key.encode("utf-8")).digest()


class Authenticator:
    """Resolves request metadata to a Principal.

    Args:
        api_keys: key → Principal, or key → API-key fields (see ``principal_from_fields``).
        jwt_secret: HS256 secret for bearer tokens; None disables bearer tokens.
        jwt_issuer: when set, tokens must carry this ``iss``.
        jwt_audience: when set, tokens must carry this ``aud``. Tokens that carry an ``aud``
            are rejected while no audience is configured (PyJWT's rule, and the safe one).
        jwt_leeway_s: clock skew tolerated on ``exp`` / ``nbf`` / ``iat``.
    """

    def __init__(
        self,
        api_keys: Mapping[str, Principal | Mapping[str, Any]] | None = None,
        *,
        jwt_secret: str | bytes | None = None,
        jwt_issuer: str | None = None,
        jwt_audience: str | None = None,
        jwt_leeway_s: float = 5.0,
    ) -> None:
        self._keys: dict[bytes, Principal] = {}
        for index, (key, value) in enumerate((api_keys or {}).items()):
            if not key:
                raise ValueError("API keys must be non-empty")
            try:
                principal = value if isinstance(value, Principal) else principal_from_fields(value)
            except ValueError as exc:
                # Name the entry by position, never by its key: this message may be logged.
                raise ValueError(f"API key entry #{index + 1}: {exc}") from None
            self._keys[_digest(key)] = principal
        secret = jwt_secret.encode("utf-8") if isinstance(jwt_secret, str) else jwt_secret
        if secret is not None and len(secret) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"JWT secret must be at least {MIN_JWT_SECRET_BYTES} bytes")
        self._secret = secret
        self._issuer = jwt_issuer
        self._audience = jwt_audience
        self._leeway = jwt_leeway_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Authenticator:
        """Build from ``LABELOPS_API_KEYS``, ``LABELOPS_API_KEYS_FILE``, ``LABELOPS_JWT_*``.

        Raises ValueError on malformed configuration, so a service fails at startup instead of
        rejecting every call.
        """
        env = os.environ if environ is None else environ
        keys: dict[str, Mapping[str, Any]] = {}
        sources: list[tuple[str, str]] = []
        if path := env.get("LABELOPS_API_KEYS_FILE"):
            sources.append((f"LABELOPS_API_KEYS_FILE ({path})", Path(path).read_text("utf-8")))
        if inline := env.get("LABELOPS_API_KEYS"):
            sources.append(("LABELOPS_API_KEYS", inline))
        for source, text in sources:
            for key, fields in _parse_key_json(source, text).items():
                if key in keys:
                    raise ValueError(f"{source}: an API key is defined twice")
                keys[key] = fields
        return cls(
            keys,
            jwt_secret=env.get("LABELOPS_JWT_SECRET") or None,
            jwt_issuer=env.get("LABELOPS_JWT_ISSUER") or None,
            jwt_audience=env.get("LABELOPS_JWT_AUDIENCE") or None,
        )

    @property
    def configured(self) -> bool:
        """False when no API key and no JWT secret is set: every call would be rejected."""
        return bool(self._keys) or self._secret is not None

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal:
        """The Principal the request metadata proves; raises Unauthenticated otherwise.

        Exactly one credential must be present: one ``x-api-key`` or one
        ``authorization: Bearer <jwt>``. Two are refused rather than guessing which one the
        caller meant to act as.
        """
        api_keys: list[str] = []
        authorizations: list[str] = []
        for key, value in metadata or ():
            if isinstance(value, bytes):
                continue
            if key == API_KEY_HEADER:
                api_keys.append(value)
            elif key == AUTHORIZATION_HEADER:
                authorizations.append(value)
        if len(api_keys) + len(authorizations) > 1:
            raise Unauthenticated(
                "send exactly one credential (x-api-key or authorization)",
                reason=REASON_AMBIGUOUS,
            )
        if api_keys:
            return self.authenticate_api_key(api_keys[0])
        if authorizations:
            scheme, _, token = authorizations[0].strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated(
                    "authorization must be 'Bearer <token>'", reason=REASON_TOKEN_INVALID
                )
            return self.authenticate_bearer(token.strip())
        raise Unauthenticated(
            "missing credentials: send x-api-key or authorization: Bearer <token>",
            reason=REASON_MISSING,
        )

    def authenticate_api_key(self, api_key: str) -> Principal:
        """The Principal configured for ``api_key``; raises Unauthenticated if unknown."""
        principal = self._keys.get(_digest(api_key))
        if principal is None:
            raise Unauthenticated("invalid API key", reason=REASON_API_KEY_INVALID)
        return principal

    def authenticate_bearer(self, token: str) -> Principal:
        """The Principal of a valid HS256 JWT; raises Unauthenticated otherwise.

        Claims: ``sub`` (required), ``tenant`` (or ``tenant_id``, required), ``exp``
        (required), ``kind`` (default "user"), ``roles`` (list or space-separated string),
        ``vendor_id`` (required for kind "vendor").
        """
        if self._secret is None:
            raise Unauthenticated("bearer tokens are not accepted", reason=REASON_TOKEN_INVALID)
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["sub", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired", reason=REASON_TOKEN_EXPIRED) from None
        except jwt.InvalidTokenError as exc:
            # PyJWT's messages name the failed check ("Invalid audience"), never the secret.
            raise Unauthenticated(f"invalid token: {exc}", reason=REASON_TOKEN_INVALID) from None
        try:
            return _principal(
                claims.get("sub"),
                claims.get("tenant", claims.get("tenant_id")),
                claims.get("kind", "user"),
                claims.get("roles", []),
                claims.get("vendor_id"),
            )
        except ValueError as exc:
            raise Unauthenticated(
                f"invalid token claims: {exc}", reason=REASON_TOKEN_INVALID
            ) from None


def _parse_key_json(source: str, text: str) -> dict[str, Mapping[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f'{source}: expected {{"<key>": {{"subject": ..., ...}}, ...}}')
    return data

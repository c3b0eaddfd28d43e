"""Who is calling: API keys (``x-api-key``) and bearer JWTs → ``labelops_core`` Principal.

Configuration (see :meth:`Authenticator.from_env`):

- ``LABELOPS_API_KEYS``: JSON object ``{"<key>": {"subject", "tenant_id", "kind", "roles",
  "vendor_id"}}``; ``LABELOPS_API_KEYS_FILE``: path to a file with the same JSON (both may be
  set; a key defined in both is an error). A key not in them is looked up in the
  ``key_source`` (keys stored hashed in Postgres, with rotation, revocation and expiry), when
  one is given.
- ``LABELOPS_JWT_SECRET`` (at least 32 bytes): HS256 tokens signed with it.
- ``LABELOPS_JWT_JWKS_URL``: RS256 / ES256 tokens signed by an OIDC issuer whose public keys
  are at this URL (``kid`` header required); ``LABELOPS_JWT_ISSUER`` and
  ``LABELOPS_JWT_AUDIENCE`` are then REQUIRED (startup fails otherwise), since any token the
  issuer signs for another application would otherwise be accepted. They are checked for
  HS256 tokens too when set.
- ``LABELOPS_JWT_MAX_LIFETIME_S`` (default 3600): every token must carry ``iat`` and ``exp``,
  and ``exp - iat`` may not exceed it (a stolen token stays useful for at most that long).

The algorithm is taken from the token's header only to pick the key: HS256 needs the secret,
RS256 / ES256 need the JWKS (and a key of that type); ``none`` and every other algorithm are
refused.

JWKS keys are fetched once by ``warm()`` (``GrpcServer.start`` calls it) and cached by
PyJWT's ``PyJWKClient`` for ``JWKS_CACHE_S``; ``authenticate_async`` fetches a missing or
expired key set in a worker thread, so the event loop never waits on the network (an unknown
``kid`` refetches at most once per 30 s: PyJWT's cooldown).

Every failure raises ``labelops_core.errors.Unauthenticated`` with a specific reason, which the
server interceptor maps to UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import jwt
from labelops_core.context import Principal
from labelops_core.errors import DomainError, Unauthenticated, Unavailable

_log = logging.getLogger(__name__)

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
REASON_CREDENTIALS_UNAVAILABLE = "CREDENTIALS_UNAVAILABLE"

#: Algorithms accepted for tokens verified with the JWKS.
JWKS_ALGORITHMS = frozenset({"RS256", "ES256"})

#: Default upper bound on ``exp - iat`` of any token (seconds).
DEFAULT_JWT_MAX_LIFETIME_S = 3600.0

#: How long a fetched JWKS is trusted before it is fetched again (seconds).
JWKS_CACHE_S = 300.0

#: Timeout of one JWKS fetch (seconds).
JWKS_FETCH_TIMEOUT_S = 5.0


class KeySource(Protocol):
    """API keys beyond the static map (e.g. hashed in Postgres, revocable without restart).

    ``lookup`` returns the key's Principal, or None for an unknown key; it may be a coroutine
    function (awaited by ``authenticate_async``). It may raise ``Unauthenticated`` with a
    specific reason (``API_KEY_REVOKED``, ``API_KEY_EXPIRED``); any other exception is
    answered UNAVAILABLE (reason ``CREDENTIALS_UNAVAILABLE``), never as "invalid key".
    """

    def lookup(self, api_key: str) -> Principal | Awaitable[Principal | None] | None:
        """The Principal of ``api_key``, or None when the source does not know it."""
        ...


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
        jwt_secret: HS256 secret for bearer tokens; None: no HS256 tokens.
        jwt_issuer: when set, tokens must carry this ``iss`` (required with a JWKS URL).
        jwt_audience: when set, tokens must carry this ``aud`` (required with a JWKS URL).
            Tokens that carry an ``aud`` are rejected while no audience is configured (PyJWT's
            rule, and the safe one).
        jwt_leeway_s: clock skew tolerated on ``exp`` / ``nbf`` / ``iat``.
        jwt_jwks_url: where the issuer publishes its keys (RS256 / ES256 tokens); None: none.
        jwt_max_lifetime_s: the longest ``exp - iat`` accepted for any token.
        key_source: consulted for API keys not in ``api_keys``; None: static keys only.
    """

    def __init__(
        self,
        api_keys: Mapping[str, Principal | Mapping[str, Any]] | None = None,
        *,
        jwt_secret: str | bytes | None = None,
        jwt_issuer: str | None = None,
        jwt_audience: str | None = None,
        jwt_leeway_s: float = 5.0,
        jwt_jwks_url: str | None = None,
        jwt_max_lifetime_s: float = DEFAULT_JWT_MAX_LIFETIME_S,
        key_source: KeySource | None = None,
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
        if jwt_max_lifetime_s <= 0:
            raise ValueError("the JWT maximum lifetime must be positive")
        self._secret = secret
        self._issuer = jwt_issuer
        self._audience = jwt_audience
        self._leeway = jwt_leeway_s
        self._max_lifetime = jwt_max_lifetime_s
        self._key_source = key_source
        self._jwks: jwt.PyJWKClient | None = None
        if jwt_jwks_url:
            if not jwt_issuer or not jwt_audience:
                raise ValueError(
                    "LABELOPS_JWT_JWKS_URL needs LABELOPS_JWT_ISSUER and LABELOPS_JWT_AUDIENCE"
                )
            try:
                self._jwks = jwt.PyJWKClient(
                    jwt_jwks_url,
                    cache_jwk_set=True,
                    lifespan=JWKS_CACHE_S,
                    timeout=JWKS_FETCH_TIMEOUT_S,
                )
            except jwt.PyJWKClientError as exc:
                raise ValueError(f"LABELOPS_JWT_JWKS_URL: {exc}") from None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, key_source: KeySource | None = None
    ) -> Authenticator:
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
        lifetime = env.get("LABELOPS_JWT_MAX_LIFETIME_S") or str(DEFAULT_JWT_MAX_LIFETIME_S)
        try:
            max_lifetime = float(lifetime)
        except ValueError:
            raise ValueError("LABELOPS_JWT_MAX_LIFETIME_S must be a number of seconds") from None
        return cls(
            keys,
            jwt_secret=env.get("LABELOPS_JWT_SECRET") or None,
            jwt_issuer=env.get("LABELOPS_JWT_ISSUER") or None,
            jwt_audience=env.get("LABELOPS_JWT_AUDIENCE") or None,
            jwt_jwks_url=env.get("LABELOPS_JWT_JWKS_URL") or None,
            jwt_max_lifetime_s=max_lifetime,
            key_source=key_source,
        )

    @property
    def configured(self) -> bool:
        """False when no credential of any kind is configured: every call would be rejected."""
        return (
            bool(self._keys)
            or self._secret is not None
            or self._jwks is not None
            or self._key_source is not None
        )

    def warm(self) -> None:
        """Fetch the JWKS now (at startup), so the first token need not wait for it.

        A failure is logged, not raised: the issuer may be briefly down while the service
        starts; the keys are then fetched (in a worker thread) by the first token that needs
        them.
        """
        if self._jwks is None:
            return
        try:
            self._jwks.get_signing_keys()
        except jwt.PyJWKClientError as exc:
            _log.warning("JWKS not fetched at startup (%s); will retry on demand", exc)

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal:
        """The Principal the request metadata proves; raises Unauthenticated otherwise.

        Exactly one credential must be present: one ``x-api-key`` or one
        ``authorization: Bearer <jwt>``. Two are refused rather than guessing which one the
        caller meant to act as. Synchronous: a JWKS fetch or an async key source blocks or is
        refused here; servers use ``authenticate_async``.
        """
        kind, value = _credential(metadata)
        if kind == API_KEY_HEADER:
            return self.authenticate_api_key(value)
        return self.authenticate_bearer(value)

    async def authenticate_async(
        self, metadata: Iterable[tuple[str, str | bytes]] | None
    ) -> Principal:
        """``authenticate`` for event loops: awaits the key source, fetches JWKS off-loop."""
        kind, value = _credential(metadata)
        if kind == API_KEY_HEADER:
            principal = self._keys.get(_digest(value))
            if principal is not None:
                return principal
            found = self._lookup(value)
            if inspect.isawaitable(found):
                found = await self._awaited(found)
            return _known(found)
        alg, kid = self._header(value)
        key = self._key(alg, kid, fetch=False)
        if key is None:
            key = await asyncio.to_thread(self._key, alg, kid, True)
        return self._decode(value, key, alg)

    def authenticate_api_key(self, api_key: str) -> Principal:
        """The Principal configured for ``api_key``; raises Unauthenticated if unknown."""
        principal = self._keys.get(_digest(api_key))
        if principal is not None:
            return principal
        found = self._lookup(api_key)
        if inspect.isawaitable(found):
            if inspect.iscoroutine(found):
                found.close()
            raise RuntimeError("an async key source needs authenticate_async")
        return _known(found)

    def authenticate_bearer(self, token: str) -> Principal:
        """The Principal of a valid JWT; raises Unauthenticated otherwise.

        Claims: ``sub``, ``exp`` and ``iat`` (required), ``tenant`` (or ``tenant_id``,
        required), ``kind`` (default "user"), ``roles`` (list or space-separated string),
        ``vendor_id`` (required for kind "vendor").
        """
        alg, kid = self._header(token)
        return self._decode(token, self._key(alg, kid, fetch=True), alg)

    # --- internals ---------------------------------------------------------------------------

    def _lookup(self, api_key: str) -> Any:
        if self._key_source is None:
            return None
        try:
            return self._key_source.lookup(api_key)
        except DomainError:
            raise
        except Exception as exc:
            raise _unavailable(exc) from None

    async def _awaited(self, found: Awaitable[Principal | None]) -> Principal | None:
        try:
            return await found
        except DomainError:
            raise
        except Exception as exc:
            raise _unavailable(exc) from None

    def _header(self, token: str) -> tuple[str, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token", reason=REASON_TOKEN_INVALID) from None
        alg, kid = header.get("alg"), header.get("kid")
        return (alg if isinstance(alg, str) else "", kid if isinstance(kid, str) else "")

    def _key(self, alg: str, kid: str, fetch: bool) -> Any:
        """The key verifying a token of algorithm ``alg``; None when ``fetch`` is False and
        the JWKS would have to be fetched first."""
        if alg == "HS256" and self._secret is not None:
            return self._secret
        if alg in JWKS_ALGORITHMS and self._jwks is not None:
            if not kid:
                raise Unauthenticated("token has no kid", reason=REASON_TOKEN_INVALID)
            jwk = self._cached_jwk(kid)
            if jwk is None:
                if not fetch:
                    return None
                try:
                    jwk = self._jwks.get_signing_key(kid)
                except jwt.PyJWKClientConnectionError:
                    _log.warning("JWKS fetch failed", exc_info=True)
                    raise Unavailable(
                        "the token issuer's keys are unavailable; retry later",
                        reason=REASON_CREDENTIALS_UNAVAILABLE,
                    ) from None
                except jwt.PyJWKClientError:
                    raise Unauthenticated(
                        "token signed by an unknown key", reason=REASON_TOKEN_INVALID
                    ) from None
            if jwk.algorithm_name != alg:
                raise Unauthenticated(
                    "token algorithm does not match its key", reason=REASON_TOKEN_INVALID
                )
            return jwk.key
        shown = alg[:16] or "none"
        raise Unauthenticated(
            f"tokens signed with {shown!r} are not accepted", reason=REASON_TOKEN_INVALID
        )

    def _cached_jwk(self, kid: str) -> jwt.PyJWK | None:
        cache = self._jwks.jwk_set_cache if self._jwks is not None else None
        jwk_set = cache.get() if cache is not None else None
        if not isinstance(jwk_set, jwt.PyJWKSet):
            return None
        for jwk in jwk_set.keys:
            if jwk.key_id == kid and jwk.public_key_use in ("sig", None):
                return jwk
        return None

    def _decode(self, token: str, key: Any, alg: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired", reason=REASON_TOKEN_EXPIRED) from None
        except jwt.PyJWTError as exc:
            # PyJWT's messages name the failed check ("Invalid audience"), never the key.
            raise Unauthenticated(f"invalid token: {exc}", reason=REASON_TOKEN_INVALID) from None
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > self._max_lifetime:
            raise Unauthenticated(
                f"token lifetime exceeds {self._max_lifetime:g}s", reason=REASON_TOKEN_INVALID
            )
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


def _credential(metadata: Iterable[tuple[str, str | bytes]] | None) -> tuple[str, str]:
    """``(API_KEY_HEADER, key)`` or ``(AUTHORIZATION_HEADER, token)``: the one credential."""
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
        return API_KEY_HEADER, api_keys[0]
    if authorizations:
        scheme, _, token = authorizations[0].strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "authorization must be 'Bearer <token>'", reason=REASON_TOKEN_INVALID
            )
        return AUTHORIZATION_HEADER, token.strip()
    raise Unauthenticated(
        "missing credentials: send x-api-key or authorization: Bearer <token>",
        reason=REASON_MISSING,
    )


def _known(found: Any) -> Principal:
    if isinstance(found, Principal):
        return found
    if found is not None:
        raise TypeError("KeySource.lookup must return a Principal or None")
    raise Unauthenticated("invalid API key", reason=REASON_API_KEY_INVALID)


def _unavailable(exc: Exception) -> Unavailable:
    # The store is down: "invalid key" would make clients drop a good key.
    _log.warning("API key lookup failed: %s", type(exc).__name__)
    return Unavailable(
        "credentials cannot be checked right now; retry later",
        reason=REASON_CREDENTIALS_UNAVAILABLE,
    )


def _parse_key_json(source: str, text: str) -> dict[str, Mapping[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f'{source}: expected {{"<key>": {{"subject": ..., ...}}, ...}}')
    return data

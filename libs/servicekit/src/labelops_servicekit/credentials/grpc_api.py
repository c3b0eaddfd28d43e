"""``labelops.admin.v1.CredentialService``: API keys of the caller's tenant.

Who may: ``credentials.manage`` (the admin row), required by the interceptor through
``CREDENTIAL_METHOD_ACTIONS`` and again at the top of each handler, so a service still without
a method table does not leave its credential API open to every authenticated caller. Every
statement is scoped to the caller's tenant: another tenant's key id is NOT_FOUND (no
existence leak), and a create naming another tenant is PERMISSION_DENIED
(``CROSS_TENANT_KEY``). Without a principal (no authenticator: embedded use) the tenant is
``default``.

Caps: subject and vendor_id at most ``MAX_ID_CHARS`` characters, at most ``MAX_ROLES`` roles,
a rotation's grace period at most ``MAX_GRACE``. Roles are the table's person roles (admin,
manager, ml_engineer, reviewer, annotator) and only on user keys: a vendor / model / service
key holds only its kind's row (``labelops_core.authz.principal_roles``), so roles on it would
be misleading and are refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio
from labelops.admin.v1 import credentials_pb2 as pb
from labelops.admin.v1 import credentials_pb2_grpc as pb_grpc
from labelops.events.v1 import envelope_pb2
from labelops_core.authz import ROLES, Action, require
from labelops_core.context import current_principal, current_tenant
from labelops_core.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ViolationCollector,
)
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size

from .keys import format_key, new_key_id, new_secret, secret_digest
from .store import KeyRow, KeyStore

_SERVICE = pb.DESCRIPTOR.services_by_name["CredentialService"]
#: The credential methods in the roles x actions table (the scaffold adds them to a service's).
CREDENTIAL_METHOD_ACTIONS: dict[str, Action] = {
    f"/{_SERVICE.full_name}/{m.name}": Action.CREDENTIALS_MANAGE for m in _SERVICE.methods
}
CREDENTIAL_SERVICE = _SERVICE.full_name

MAX_ID_CHARS = 256
MAX_ROLES = 16
MAX_GRACE = timedelta(days=30)
PERSON_ROLES = frozenset(ROLES) - {"vendor", "model", "service"}

_KINDS = {
    envelope_pb2.ACTOR_KIND_UNSPECIFIED: "user",
    envelope_pb2.ACTOR_KIND_USER: "user",
    envelope_pb2.ACTOR_KIND_VENDOR: "vendor",
    envelope_pb2.ACTOR_KIND_MODEL: "model",
    envelope_pb2.ACTOR_KIND_SERVICE: "service",
}
_KIND_ENUM = {name: value for value, name in _KINDS.items() if value}


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    t = Timestamp()
    t.FromDatetime(value)
    return t


def key_message(row: KeyRow, now: datetime) -> pb.ApiKey:
    """The stored key as the API shows it (never the digest)."""
    if row.revoked_at is not None:
        state = pb.API_KEY_STATE_REVOKED
    elif row.expires_at is not None and row.expires_at <= now:
        state = pb.API_KEY_STATE_EXPIRED
    else:
        state = pb.API_KEY_STATE_ACTIVE
    return pb.ApiKey(
        key_id=row.key_id,
        tenant_id=row.tenant_id,
        subject=row.subject,
        kind=_KIND_ENUM[row.kind],  # type: ignore[arg-type]
        roles=list(row.roles),
        vendor_id=row.vendor_id or "",
        create_time=_ts(row.created_at),
        expire_time=_ts(row.expires_at),
        revoke_time=_ts(row.revoked_at),
        rotated_from=row.rotated_from or "",
        created_by=row.created_by,
        state=state,
    )


def _expiry(
    request: pb.CreateApiKeyRequest | pb.RotateApiKeyRequest, now: datetime
) -> datetime | None:
    if not request.HasField("expire_time"):
        return None
    try:
        at = request.expire_time.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidArgument(
            "expire_time is out of range", [FieldViolation("expire_time", "out of range")]
        ) from exc
    if at <= now:
        raise InvalidArgument(
            "expire_time must be in the future", [FieldViolation("expire_time", "in the past")]
        )
    return at


def _checked_create(request: pb.CreateApiKeyRequest) -> tuple[str, tuple[str, ...], str | None]:
    """(kind, roles, vendor id) of a valid create request; InvalidArgument otherwise."""
    v = ViolationCollector()
    if not request.subject:
        v.add("subject", "required")
    elif len(request.subject) > MAX_ID_CHARS:
        v.add("subject", f"at most {MAX_ID_CHARS} characters")
    kind = _KINDS.get(request.kind)
    if kind is None:
        v.add("kind", "unknown")
    roles = tuple(dict.fromkeys(request.roles))
    if len(roles) > MAX_ROLES:
        v.add("roles", f"at most {MAX_ROLES}")
    elif kind not in (None, "user") and roles:
        v.add("roles", f"a {kind} key holds only its kind's row; give no roles")
    else:
        for i, r in enumerate(roles):
            if r not in PERSON_ROLES:
                v.add(f"roles[{i}]", f"unknown role; one of {sorted(PERSON_ROLES)}")
    vendor = request.vendor_id or None
    if kind == "vendor" and vendor is None:
        v.add("vendor_id", "required for a vendor key")
    elif kind not in (None, "vendor") and vendor is not None:
        v.add("vendor_id", "only vendor keys have one")
    elif vendor is not None and len(vendor) > MAX_ID_CHARS:
        v.add("vendor_id", f"at most {MAX_ID_CHARS} characters")
    v.raise_if_any("invalid API key request")
    assert kind is not None
    return kind, roles, vendor


def _key_id(value: str) -> str:
    if not value:
        raise InvalidArgument("key_id is required", [FieldViolation("key_id", "required")])
    return value


def _not_found(key_id: str) -> NotFound:
    # The same answer for another tenant's key as for a missing one.
    return NotFound(f"API key {key_id[:64]} not found", reason="API_KEY_NOT_FOUND")


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """A service whose database role may only read the keys says so (not INTERNAL)."""
    try:
        yield
    except asyncpg.InsufficientPrivilegeError as exc:
        raise FailedPrecondition(
            "this service may only read API keys; call a service deployed with auth_admin_dsn",
            reason="CREDENTIALS_READ_ONLY",
        ) from exc


class CredentialServicer(pb_grpc.CredentialServiceServicer):
    """The admin API over ``KeyStore`` (see the module docstring)."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: aio.ServicerContext
    ) -> pb.CreateApiKeyResponse:
        require(Action.CREDENTIALS_MANAGE)
        tenant = current_tenant()
        if request.tenant_id and request.tenant_id != tenant:
            raise PermissionDenied(
                "an admin mints keys only for their own tenant", reason="CROSS_TENANT_KEY"
            )
        kind, roles, vendor = _checked_create(request)
        now = await self.store.now()
        expires = _expiry(request, now)
        secret = new_secret()
        with _writing():
            row = await self.store.insert(
                KeyRow(
                    key_id=new_key_id(),
                    tenant_id=tenant,
                    subject=request.subject,
                    kind=kind,
                    roles=roles,
                    vendor_id=vendor,
                    secret_sha256=secret_digest(secret),
                    created_at=now,
                    expires_at=expires,
                    revoked_at=None,
                    rotated_from=None,
                    created_by=_caller(),
                )
            )
        return pb.CreateApiKeyResponse(
            key=key_message(row, now), api_key=format_key(row.key_id, secret)
        )

    async def ListApiKeys(
        self, request: pb.ListApiKeysRequest, context: aio.ServicerContext
    ) -> pb.ListApiKeysResponse:
        require(Action.CREDENTIALS_MANAGE)
        tenant = current_tenant()
        size = page_size(request.page_size)
        bound = filter_fingerprint("keys", tenant, request.show_inactive)
        after = None
        if request.page_token:
            cursor = decode_token(request.page_token, bound)
            try:
                after = (datetime.fromisoformat(cursor[0]), str(cursor[1]))
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise InvalidArgument(
                    "page_token is not one this server issued",
                    [FieldViolation("page_token", "malformed")],
                ) from exc
        rows = await self.store.list_keys(
            tenant, limit=size + 1, after=after, show_inactive=request.show_inactive
        )
        now = await self.store.now()
        more = len(rows) > size
        rows = rows[:size]
        token = ""
        if more:
            last = rows[-1]
            token = encode_token([last.created_at.isoformat(), last.key_id], bound)
        return pb.ListApiKeysResponse(
            keys=[key_message(r, now) for r in rows], next_page_token=token
        )

    async def RotateApiKey(
        self, request: pb.RotateApiKeyRequest, context: aio.ServicerContext
    ) -> pb.RotateApiKeyResponse:
        require(Action.CREDENTIALS_MANAGE)
        tenant = current_tenant()
        key_id = _key_id(request.key_id)
        grace = request.grace_period.ToTimedelta() if request.HasField("grace_period") else None
        if grace is not None and not (timedelta(0) <= grace <= MAX_GRACE):
            raise InvalidArgument(
                "grace_period out of range",
                [FieldViolation("grace_period", f"between 0 and {MAX_GRACE.days} days")],
            )
        secret = new_secret()
        with _writing():
            async with self.store.pool.acquire() as conn, conn.transaction():
                now = await self.store.now(conn)
                expires = _expiry(request, now)
                old = await self.store.get(tenant, key_id, conn)
                if old is None:
                    raise _not_found(key_id)
                if not old.active_at(now):
                    raise FailedPrecondition(
                        f"API key {key_id} is revoked or expired", reason="API_KEY_INACTIVE"
                    )
                new = await self.store.insert(
                    KeyRow(
                        key_id=new_key_id(),
                        tenant_id=tenant,
                        subject=old.subject,
                        kind=old.kind,
                        roles=old.roles,
                        vendor_id=old.vendor_id,
                        secret_sha256=secret_digest(secret),
                        created_at=now,
                        expires_at=expires,
                        revoked_at=None,
                        rotated_from=old.key_id,
                        created_by=_caller(),
                    ),
                    conn,
                )
                previous = await self.store.set_expiry(
                    tenant, key_id, now + (grace or timedelta(0)), conn
                )
        return pb.RotateApiKeyResponse(
            key=key_message(new, now),
            api_key=format_key(new.key_id, secret),
            previous=key_message(previous, now),
        )

    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, context: aio.ServicerContext
    ) -> pb.RevokeApiKeyResponse:
        require(Action.CREDENTIALS_MANAGE)
        key_id = _key_id(request.key_id)
        with _writing():
            row = await self.store.revoke(current_tenant(), key_id)
        if row is None:
            raise _not_found(key_id)
        return pb.RevokeApiKeyResponse(key=key_message(row, await self.store.now()))


def _caller() -> str:
    p = current_principal()
    return p.subject if p is not None else ""

"""SQL of ``<auth schema>.api_keys`` (every statement on the table lives here).

Every method but ``load`` takes the tenant explicitly and filters by it: another tenant's key
is not found, the same answer as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import asyncpg
from labelops_core.context import Principal

#: The shared schema of credentials (``ServiceSettings.auth_schema``).
AUTH_SCHEMA = "labelops_auth"

_COLUMNS = (
    "key_id, tenant_id, subject, kind, roles, vendor_id, secret_sha256, created_at,"
    " expires_at, revoked_at, rotated_from, created_by"
)


def auth_migrations() -> list[tuple[str, str]]:
    """The credential table's migrations as (name, sql) pairs, in order."""
    root = resources.files("labelops_servicekit.credentials") / "migrations"
    files = sorted((p for p in root.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(f"auth/{p.name}", p.read_text()) for p in files]


@dataclass(frozen=True)
class KeyRow:
    """One stored key (the digest, never a secret)."""

    key_id: str
    tenant_id: str
    subject: str
    kind: str
    roles: tuple[str, ...]
    vendor_id: str | None
    secret_sha256: bytes
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_from: str | None
    created_by: str

    @property
    def principal(self) -> Principal:
        return Principal(
            subject=self.subject,
            tenant_id=self.tenant_id,
            kind=self.kind,
            roles=frozenset(self.roles),
            vendor_id=self.vendor_id,
        )

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def _row(r: asyncpg.Record) -> KeyRow:
    return KeyRow(
        key_id=r["key_id"],
        tenant_id=r["tenant_id"],
        subject=r["subject"],
        kind=r["kind"],
        roles=tuple(r["roles"]),
        vendor_id=r["vendor_id"],
        secret_sha256=bytes(r["secret_sha256"]),
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        revoked_at=r["revoked_at"],
        rotated_from=r["rotated_from"],
        created_by=r["created_by"],
    )


class KeyStore:
    """The ``api_keys`` table of ``schema``."""

    def __init__(self, pool: asyncpg.Pool, schema: str = AUTH_SCHEMA) -> None:
        self.pool = pool
        self.table = f'"{schema}".api_keys'

    async def load(self, recent_s: float) -> list[KeyRow]:
        """Every key a lookup may meet: the live ones, and those revoked or expired in the last
        ``recent_s`` seconds (so a caller hears "revoked" / "expired", not "invalid")."""
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM {self.table}"
            " WHERE (revoked_at IS NULL OR revoked_at > now() - make_interval(secs => $1))"
            " AND (expires_at IS NULL OR expires_at > now() - make_interval(secs => $1))",
            recent_s,
        )
        return [_row(r) for r in rows]

    async def insert(self, row: KeyRow, conn: asyncpg.Connection | None = None) -> KeyRow:
        """Store a new key; created_at is the database's clock."""
        r = await (conn or self.pool).fetchrow(
            f"INSERT INTO {self.table} (key_id, tenant_id, subject, kind, roles, vendor_id,"
            " secret_sha256, expires_at, rotated_from, created_by)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}",
            row.key_id,
            row.tenant_id,
            row.subject,
            row.kind,
            list(row.roles),
            row.vendor_id,
            row.secret_sha256,
            row.expires_at,
            row.rotated_from,
            row.created_by,
        )
        return _row(r)

    async def get(
        self, tenant_id: str, key_id: str, conn: asyncpg.Connection | None = None
    ) -> KeyRow | None:
        """The tenant's key ``key_id`` (locked FOR UPDATE inside a transaction), or None."""
        lock = " FOR UPDATE" if conn is not None else ""
        r = await (conn or self.pool).fetchrow(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE tenant_id = $1 AND key_id = $2{lock}",
            tenant_id,
            key_id,
        )
        return _row(r) if r else None

    async def list_keys(
        self,
        tenant_id: str,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        show_inactive: bool,
    ) -> list[KeyRow]:
        """The tenant's keys, newest first, after the cursor ``(created_at, key_id)``."""
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE tenant_id = $1"
            " AND ($2::timestamptz IS NULL OR (created_at, key_id) < ($2, $3))"
            " AND ($4 OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())))"
            " ORDER BY created_at DESC, key_id DESC LIMIT $5",
            tenant_id,
            after[0] if after else None,
            after[1] if after else "",
            show_inactive,
            limit,
        )
        return [_row(r) for r in rows]

    async def set_expiry(
        self, tenant_id: str, key_id: str, expires_at: datetime, conn: asyncpg.Connection
    ) -> KeyRow:
        """Bring the key's expiry forward to ``expires_at`` (never push it back)."""
        r = await conn.fetchrow(
            f"UPDATE {self.table} SET expires_at = LEAST(coalesce(expires_at, $3), $3)"
            f" WHERE tenant_id = $1 AND key_id = $2 RETURNING {_COLUMNS}",
            tenant_id,
            key_id,
            expires_at,
        )
        return _row(r)

    async def revoke(self, tenant_id: str, key_id: str) -> KeyRow | None:
        """Revoke the key (a revoked key keeps its first revoke time); None if not found."""
        r = await self.pool.fetchrow(
            f"UPDATE {self.table} SET revoked_at = coalesce(revoked_at, now())"
            f" WHERE tenant_id = $1 AND key_id = $2 RETURNING {_COLUMNS}",
            tenant_id,
            key_id,
        )
        return _row(r) if r else None

    async def now(self, conn: asyncpg.Connection | None = None) -> datetime:
        """The database's clock (expiry is judged against it everywhere)."""
        value: datetime = await (conn or self.pool).fetchval("SELECT now()")
        return value

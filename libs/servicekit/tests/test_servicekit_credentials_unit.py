"""Key format and ``PgKeySource`` lookups over a fake table (no Postgres)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from labelops_core.errors import Unauthenticated, Unavailable
from labelops_grpckit import Authenticator
from labelops_servicekit.credentials import (
    REASON_API_KEY_EXPIRED,
    REASON_API_KEY_REVOKED,
    KeyRow,
    PgKeySource,
    format_key,
    parse_key,
    secret_digest,
)
from labelops_servicekit.credentials.keys import new_key_id, new_secret, secret_matches

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeStore:
    def __init__(self, rows: list[KeyRow]) -> None:
        self.rows = rows
        self.fail = False

    async def load(self, recent_s: float) -> list[KeyRow]:
        if self.fail:
            raise OSError("postgres is down")
        return list(self.rows)


def key(secret: str, **kw: object) -> KeyRow:
    base = KeyRow(
        key_id=new_key_id(),
        tenant_id="tenant-a",
        subject="bot",
        kind="user",
        roles=("reviewer",),
        vendor_id=None,
        secret_sha256=secret_digest(secret),
        created_at=NOW,
        expires_at=None,
        revoked_at=None,
        rotated_from=None,
        created_by="admin",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_keys_are_lok_id_secret_and_only_our_format_parses() -> None:
    key_id, secret = new_key_id(), new_secret()
    assert len(secret) == 43 and new_secret() != secret
    api_key = format_key(key_id, secret)
    assert api_key.startswith("lok_") and parse_key(api_key) == (key_id, secret)
    for bad in (
        "",
        "lok_",
        f"lok_{key_id}",
        f"lok_{key_id}_{secret}x",
        f"lok_{key_id}_\x00" * 3,
        f"LOK_{key_id}_{secret}",
        f"lok_{key_id[:-1]}_{secret}",
        "x" * 10_000,
    ):
        assert parse_key(bad) is None
    assert secret_matches(secret, secret_digest(secret))
    assert not secret_matches(new_secret(), secret_digest(secret))
    assert len(secret_digest(secret)) == 32


async def source_of(*rows: KeyRow, **kw: object) -> tuple[PgKeySource, FakeStore]:
    store = FakeStore(list(rows))
    source = PgKeySource(store, clock=lambda: NOW, **kw)  # type: ignore[arg-type]
    await source.refresh()
    return source, store


async def test_a_stored_key_is_its_principal_and_a_wrong_secret_is_unknown() -> None:
    secret = new_secret()
    row = key(secret, roles=("admin", "reviewer"))
    source, _ = await source_of(row)
    p = source.lookup(format_key(row.key_id, secret))
    assert p is not None
    assert (p.subject, p.tenant_id, p.kind, p.roles) == (
        "bot",
        "tenant-a",
        "user",
        {"admin", "reviewer"},
    )
    assert source.lookup(format_key(row.key_id, new_secret())) is None
    assert source.lookup(format_key(new_key_id(), secret)) is None
    assert source.lookup("not-a-stored-key") is None


async def test_revoked_and_expired_keys_say_so_only_with_the_right_secret() -> None:
    s1, s2, s3 = new_secret(), new_secret(), new_secret()
    revoked = key(s1, revoked_at=NOW - timedelta(seconds=1))
    expired = key(s2, expires_at=NOW)
    later = key(s3, expires_at=NOW + timedelta(seconds=1))
    source, _ = await source_of(revoked, expired, later)
    with pytest.raises(Unauthenticated) as info:
        source.lookup(format_key(revoked.key_id, s1))
    assert info.value.reason == REASON_API_KEY_REVOKED
    with pytest.raises(Unauthenticated) as info:
        source.lookup(format_key(expired.key_id, s2))
    assert info.value.reason == REASON_API_KEY_EXPIRED
    assert source.lookup(format_key(revoked.key_id, s2)) is None  # wrong secret: nothing told
    assert source.lookup(format_key(later.key_id, s3)) is not None


async def test_a_refresh_takes_a_revocation_and_a_stale_snapshot_fails_closed() -> None:
    secret = new_secret()
    row = key(secret)
    source, store = await source_of(row, refresh_s=0.01, max_staleness_s=0.2)
    api_key = format_key(row.key_id, secret)
    assert source.lookup(api_key) is not None
    store.rows = [replace(row, revoked_at=NOW)]
    task = asyncio.create_task(source.run())
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                source.lookup(api_key)
            except Unauthenticated as exc:
                assert exc.reason == REASON_API_KEY_REVOKED
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        store.fail = True  # Postgres goes away: the last snapshot serves, then nothing does
        await asyncio.sleep(0.4)
        with pytest.raises(Unavailable):
            source.lookup(api_key)
        store.fail = False
        await asyncio.sleep(0.1)
        with pytest.raises(Unauthenticated):
            source.lookup(api_key)
    finally:
        await source.stop()
        await asyncio.wait_for(task, 2)


async def test_before_the_first_snapshot_lookups_are_unavailable() -> None:
    source = PgKeySource(FakeStore([]))  # type: ignore[arg-type]
    with pytest.raises(Unavailable):
        source.lookup(format_key(new_key_id(), new_secret()))


async def test_the_authenticator_consults_the_source_after_its_static_keys() -> None:
    secret = new_secret()
    row = key(secret, tenant_id="tenant-b")
    source, _ = await source_of(row)
    auth = Authenticator({"static": {"subject": "s", "tenant_id": "tenant-a"}}, key_source=source)
    assert auth.authenticate([("x-api-key", "static")]).tenant_id == "tenant-a"
    assert (
        auth.authenticate([("x-api-key", format_key(row.key_id, secret))]).tenant_id == "tenant-b"
    )
    with pytest.raises(Unauthenticated):
        auth.authenticate([("x-api-key", format_key(row.key_id, new_secret()))])

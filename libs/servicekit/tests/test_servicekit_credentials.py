"""CredentialService and stored API keys over gRPC, on a toy service of the scaffold (real
Postgres and Kafka): keys made, rotated and revoked take effect without a restart; another
tenant, a vendor and a non-admin get nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from labelops.admin.v1 import credentials_pb2 as pb
from labelops.admin.v1 import credentials_pb2_grpc as pb_grpc
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.events.v1 import envelope_pb2
from labelops_grpckit import Authenticator, KeySource, channel
from labelops_servicekit import (
    Port,
    ServiceApp,
    ServiceContext,
    ServiceName,
    ServiceSettings,
    Wiring,
    build_service,
    service_config,
)
from labelops_servicekit.app import method_actions_of
from labelops_servicekit.credentials import CREDENTIAL_METHOD_ACTIONS
from labelops_testkit.grpc import fails
from labelops_testkit.waiting import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEYS = {
    "admin-a": {"subject": "alice", "tenant_id": "tenant-a", "roles": ["admin"]},
    "admin-b": {"subject": "bert", "tenant_id": "tenant-b", "roles": ["admin"]},
    "manager-a": {"subject": "mona", "tenant_id": "tenant-a", "roles": ["manager"]},
    "vendor-a": {"subject": "v1", "tenant_id": "tenant-a", "kind": "vendor", "vendor_id": "vx"},
    "service-a": {"subject": "etl", "tenant_id": "tenant-a", "kind": "service"},
}
CODE = grpc.StatusCode


class KeySettings(ServiceSettings):
    model_config = service_config("keytoy")
    service_name: ServiceName = "keytoy"
    port: Port = 0
    migrations_dir: Path = Path(__file__).parent / "toy_migrations"


def wire(ctx: ServiceContext[KeySettings]) -> Wiring[None]:
    # An empty table of its own: the kit's event log and credential methods only.
    return Wiring(parts=None, servicers=[], method_actions={})


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    pg_pool: Any, pg_schema: str, second_schema: str, unique_name: str
) -> AsyncIterator[ServiceApp[KeySettings, None]]:
    settings = KeySettings(
        db_schema=pg_schema,
        auth_schema=second_schema,
        service_name=unique_name,
        host="127.0.0.1",
        grace_period_s=0.2,
        relay_enabled=False,
        consumers_enabled=False,
        auth_refresh_s=0.2,
    )

    def auth(source: KeySource | None) -> Authenticator:
        assert source is not None
        return Authenticator(KEYS, key_source=source)

    async with build_service(settings, wire, pool=pg_pool, authenticator=auth) as running:
        yield running


def stub(target: str, api_key: str) -> tuple[Any, pb_grpc.CredentialServiceStub]:
    ch = channel(target, api_key=api_key)
    return ch, pb_grpc.CredentialServiceStub(ch)


async def works(target: str, api_key: str) -> bool:
    """Whether ``api_key`` authenticates (the event log answers it)."""
    async with channel(target, api_key=api_key) as ch:
        try:
            await eventlog_pb2_grpc.EventLogServiceStub(ch).ListEvents(
                eventlog_pb2.ListEventsRequest()
            )
            return True
        except grpc.aio.AioRpcError as exc:
            if exc.code() == CODE.UNAUTHENTICATED:
                return False
            if exc.code() == CODE.PERMISSION_DENIED:
                return True  # authenticated; its role may not read the log
            raise


async def read_log(target: str, api_key: str) -> Any:
    async with channel(target, api_key=api_key) as ch:
        return await eventlog_pb2_grpc.EventLogServiceStub(ch).ListEvents(
            eventlog_pb2.ListEventsRequest()
        )


async def refused(target: str, api_key: str) -> bool:
    return not await works(target, api_key)


def ts(at: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(at)
    return t


async def test_every_credential_method_needs_credentials_manage_in_the_table() -> None:
    service = pb.DESCRIPTOR.services_by_name["CredentialService"]
    names = {f"/{service.full_name}/{m.name}" for m in service.methods}
    table = method_actions_of(KeySettings(), Wiring(parts=None, servicers=[], method_actions={}))
    assert table is not None and names <= set(table)
    assert {table[n].value for n in names} == {"credentials.manage"}
    assert set(CREDENTIAL_METHOD_ACTIONS) == names


async def test_a_created_key_works_at_once_and_stops_when_revoked(app: Any) -> None:
    ch, admin = stub(app.target, "admin-a")
    async with ch:
        made = await admin.CreateApiKey(pb.CreateApiKeyRequest(subject="ci", roles=["manager"]))
        assert made.api_key.startswith(f"lok_{made.key.key_id}_")
        k = made.key
        assert (k.tenant_id, k.subject, list(k.roles), k.created_by) == (
            "tenant-a",
            "ci",
            ["manager"],
            "alice",
        )
        assert k.kind == envelope_pb2.ACTOR_KIND_USER and k.state == pb.API_KEY_STATE_ACTIVE
        await eventually(lambda: works(app.target, made.api_key), timeout=10)
        # The listing shows the key, never its secret.
        listed = await admin.ListApiKeys(pb.ListApiKeysRequest())
        assert made.key.key_id in [x.key_id for x in listed.keys]
        secret = made.api_key.removeprefix(f"lok_{k.key_id}_")
        assert secret.encode() not in listed.SerializeToString()
        revoked = await admin.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=k.key_id))
        assert revoked.key.state == pb.API_KEY_STATE_REVOKED
        await eventually(lambda: refused(app.target, made.api_key), timeout=10)
        await fails(
            read_log(app.target, made.api_key),
            CODE.UNAUTHENTICATED,
            "API_KEY_REVOKED",
        )
        again = await admin.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=k.key_id))  # idempotent
        assert again.key.revoke_time == revoked.key.revoke_time
        active = await admin.ListApiKeys(pb.ListApiKeysRequest())
        assert k.key_id not in [x.key_id for x in active.keys]
        everything = await admin.ListApiKeys(pb.ListApiKeysRequest(show_inactive=True))
        assert k.key_id in [x.key_id for x in everything.keys]


async def test_rotation_without_grace_ends_the_old_key_with_grace_keeps_it(app: Any) -> None:
    ch, admin = stub(app.target, "admin-a")
    async with ch:
        first = await admin.CreateApiKey(
            pb.CreateApiKeyRequest(subject="bot", kind=envelope_pb2.ACTOR_KIND_SERVICE)
        )
        await eventually(lambda: works(app.target, first.api_key), timeout=10)
        graceful = await admin.RotateApiKey(
            pb.RotateApiKeyRequest(key_id=first.key.key_id, grace_period=Duration(seconds=600))
        )
        assert graceful.key.rotated_from == first.key.key_id
        assert graceful.key.kind == envelope_pb2.ACTOR_KIND_SERVICE
        assert graceful.previous.state == pb.API_KEY_STATE_ACTIVE
        await eventually(lambda: works(app.target, graceful.api_key), timeout=10)
        await asyncio.sleep(0.5)  # a few refreshes later the old key still works
        assert await works(app.target, first.api_key)
        at_once = await admin.RotateApiKey(pb.RotateApiKeyRequest(key_id=graceful.key.key_id))
        assert at_once.previous.state == pb.API_KEY_STATE_EXPIRED
        await eventually(lambda: refused(app.target, graceful.api_key), timeout=10)
        await eventually(lambda: works(app.target, at_once.api_key), timeout=10)
        # An expired key cannot be rotated again.
        await fails(
            admin.RotateApiKey(pb.RotateApiKeyRequest(key_id=graceful.key.key_id)),
            CODE.FAILED_PRECONDITION,
            "API_KEY_INACTIVE",
        )


async def test_a_key_expires_on_time(app: Any) -> None:
    ch, admin = stub(app.target, "admin-a")
    async with ch:
        soon = datetime.now(UTC) + timedelta(seconds=2)
        made = await admin.CreateApiKey(pb.CreateApiKeyRequest(subject="tmp", expire_time=ts(soon)))
        await eventually(lambda: works(app.target, made.api_key), timeout=10)
        await eventually(lambda: refused(app.target, made.api_key), timeout=10)
        assert datetime.now(UTC) >= soon
        await fails(
            admin.CreateApiKey(
                pb.CreateApiKeyRequest(subject="x", expire_time=ts(datetime.now(UTC)))
            ),
            CODE.INVALID_ARGUMENT,
        )


async def test_another_tenant_sees_and_touches_none_of_the_keys(app: Any) -> None:
    cha, admin_a = stub(app.target, "admin-a")
    chb, admin_b = stub(app.target, "admin-b")
    async with cha, chb:
        made = await admin_a.CreateApiKey(pb.CreateApiKeyRequest(subject="a-only"))
        key_id = made.key.key_id
        listed = await admin_b.ListApiKeys(pb.ListApiKeysRequest(show_inactive=True))
        assert key_id not in [k.key_id for k in listed.keys]
        assert all(k.tenant_id == "tenant-b" for k in listed.keys)
        missing = "0123456789abcdef"
        for call in (
            admin_b.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=key_id)),
            admin_b.RotateApiKey(pb.RotateApiKeyRequest(key_id=key_id)),
        ):
            err, _ = await fails(call, CODE.NOT_FOUND, "API_KEY_NOT_FOUND")
        # The same answer as for a key that does not exist at all.
        err2, _ = await fails(
            admin_b.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=missing)), CODE.NOT_FOUND
        )
        assert err.details().replace(key_id, "K") == err2.details().replace(missing, "K")
        await fails(
            admin_b.CreateApiKey(pb.CreateApiKeyRequest(subject="x", tenant_id="tenant-a")),
            CODE.PERMISSION_DENIED,
            "CROSS_TENANT_KEY",
        )
        await eventually(lambda: works(app.target, made.api_key), timeout=10)  # untouched


@pytest.mark.parametrize("who", ["manager-a", "vendor-a", "service-a"])
async def test_only_an_admin_manages_keys(app: Any, who: str) -> None:
    ch, caller = stub(app.target, who)
    async with ch:
        for call in (
            caller.CreateApiKey(pb.CreateApiKeyRequest(subject="me", roles=["admin"])),
            caller.ListApiKeys(pb.ListApiKeysRequest()),
            caller.RotateApiKey(pb.RotateApiKeyRequest(key_id="0123456789abcdef")),
            caller.RevokeApiKey(pb.RevokeApiKeyRequest(key_id="0123456789abcdef")),
        ):
            await fails(call, CODE.PERMISSION_DENIED, "PERMISSION_DENIED_BY_ROLE")


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (pb.CreateApiKeyRequest(), ["subject"]),
        (pb.CreateApiKeyRequest(subject="x" * 257), ["subject"]),
        (pb.CreateApiKeyRequest(subject="v", kind=envelope_pb2.ACTOR_KIND_VENDOR), ["vendor_id"]),
        (pb.CreateApiKeyRequest(subject="u", vendor_id="vx"), ["vendor_id"]),
        (
            pb.CreateApiKeyRequest(
                subject="v", kind=envelope_pb2.ACTOR_KIND_VENDOR, vendor_id="vx", roles=["admin"]
            ),
            ["roles"],
        ),
        (pb.CreateApiKeyRequest(subject="u", roles=["superuser"]), ["roles[0]"]),
        (pb.CreateApiKeyRequest(subject="u", roles=[f"r{i}" for i in range(17)]), ["roles"]),
        (pb.CreateApiKeyRequest(subject="u\x00"), None),  # the generic validator's
    ],
)
async def test_bad_create_requests_name_the_field(app: Any, request_: Any, fields: Any) -> None:
    ch, admin = stub(app.target, "admin-a")
    async with ch:
        _, got = await fails(admin.CreateApiKey(request_), CODE.INVALID_ARGUMENT)
        if fields is not None:
            assert got == fields


async def test_a_vendor_key_authenticates_as_its_vendor(app: Any) -> None:
    ch, admin = stub(app.target, "admin-a")
    async with ch:
        made = await admin.CreateApiKey(
            pb.CreateApiKeyRequest(
                subject="vendor-y/ann-7", kind=envelope_pb2.ACTOR_KIND_VENDOR, vendor_id="vy"
            )
        )
        source = app.key_source
        assert source is not None
        await eventually(lambda: asyncio.sleep(0, source.lookup(made.api_key)), timeout=10)
        p = source.lookup(made.api_key)
        assert (p.kind, p.vendor_id, p.tenant_id, p.roles) == ("vendor", "vy", "tenant-a", set())
        # A vendor key may not read the event log.
        await fails(
            read_log(app.target, made.api_key),
            CODE.PERMISSION_DENIED,
        )


async def test_listing_pages_through_every_key_once(app: Any) -> None:
    ch, admin = stub(app.target, "admin-b")
    async with ch:
        made = {
            (await admin.CreateApiKey(pb.CreateApiKeyRequest(subject=f"s{i}"))).key.key_id
            for i in range(5)
        }
        seen: list[str] = []
        token = ""
        while True:
            page = await admin.ListApiKeys(pb.ListApiKeysRequest(page_size=2, page_token=token))
            assert len(page.keys) <= 2
            seen += [k.key_id for k in page.keys]
            token = page.next_page_token
            if not token:
                break
        assert made <= set(seen) and len(seen) == len(set(seen))
        await fails(
            admin.ListApiKeys(pb.ListApiKeysRequest(page_token="garbage")), CODE.INVALID_ARGUMENT
        )

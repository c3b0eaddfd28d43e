"""``labelops keys`` against a CredentialService on a real Postgres (an in-process gRPC server
with the servicekit's servicer and key source; no labelops service is started)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from labelops.admin.v1 import credentials_pb2_grpc
from labelops_cli.main import app
from labelops_eventstore import migrate
from labelops_grpckit import Authenticator, GrpcServer
from labelops_servicekit.credentials import (
    CREDENTIAL_METHOD_ACTIONS,
    CREDENTIAL_SERVICE,
    CredentialServicer,
    KeyStore,
    PgKeySource,
    auth_migrations,
)
from typer.testing import CliRunner, Result

pytestmark = pytest.mark.asyncio(loop_scope="session")

STATIC = {
    "admin-a": {"subject": "alice", "tenant_id": "tenant-a", "roles": ["admin"]},
    "admin-b": {"subject": "bert", "tenant_id": "tenant-b", "roles": ["admin"]},
    "reviewer-a": {"subject": "rita", "tenant_id": "tenant-a", "roles": ["reviewer"]},
}


@pytest_asyncio.fixture(loop_scope="session")
async def server(pg_pool: Any, pg_schema: str) -> AsyncIterator[tuple[str, PgKeySource]]:
    await migrate(pg_pool, pg_schema, auth_migrations(), include_eventstore=False)
    store = KeyStore(pg_pool, pg_schema)
    source = PgKeySource(store)
    await source.refresh()
    grpc_server = GrpcServer(
        host="127.0.0.1",
        authenticator=Authenticator(STATIC, key_source=source),
        method_actions=CREDENTIAL_METHOD_ACTIONS,
        grace_period=0.1,
    )
    grpc_server.add_service(
        credentials_pb2_grpc.add_CredentialServiceServicer_to_server,
        CredentialServicer(store),
        CREDENTIAL_SERVICE,
    )
    await grpc_server.start()
    try:
        yield grpc_server.target, source
    finally:
        await grpc_server.stop()


async def cli(target: str, key: str, *args: str) -> Result:
    argv = ["--api-key", key, "--qa-target", target, *args, "--service", "qa"]
    return await asyncio.to_thread(
        CliRunner().invoke, app, argv, env={"COLUMNS": "200"}, catch_exceptions=False
    )


async def test_create_list_rotate_revoke(server: tuple[str, PgKeySource]) -> None:
    target, source = server
    made = await cli(target, "admin-a", "keys", "create", "ci-bot", "--role", "manager")
    assert made.exit_code == 0, made.output
    api_key = made.stdout.strip().splitlines()[-1]
    assert api_key.startswith("lok_")
    await source.refresh()
    p = source.lookup(api_key)
    assert p is not None and (p.subject, p.tenant_id, p.roles) == (
        "ci-bot",
        "tenant-a",
        {"manager"},
    )

    listed = await cli(target, "admin-a", "keys", "list", "--json")
    assert listed.exit_code == 0, listed.output
    keys = json.loads(listed.stdout)
    key_id = api_key.split("_")[1]
    assert [k["key_id"] for k in keys] == [key_id]
    assert api_key.split("_", 2)[2] not in listed.stdout  # never a secret
    table = await cli(target, "admin-a", "keys", "list")
    assert "ci-bot" in table.stdout and "manager" in table.stdout

    rotated = await cli(target, "admin-a", "keys", "rotate", key_id, "--json")
    assert rotated.exit_code == 0, rotated.output
    body = json.loads(rotated.stdout)
    assert (
        body["key"]["rotated_from"] == key_id
        and body["previous"]["state"] == "API_KEY_STATE_EXPIRED"
    )
    await source.refresh()
    assert source.lookup(body["api_key"]) is not None

    revoked = await cli(target, "admin-a", "keys", "revoke", body["key"]["key_id"])
    assert revoked.exit_code == 0 and "revoked key" in revoked.stdout
    everything = json.loads(
        (await cli(target, "admin-a", "keys", "list", "--all", "--json")).stdout
    )
    assert {k["state"] for k in everything} == {"API_KEY_STATE_EXPIRED", "API_KEY_STATE_REVOKED"}


async def test_errors_are_one_line_and_exit_1(server: tuple[str, PgKeySource]) -> None:
    target, _ = server
    made = await cli(target, "admin-a", "keys", "create", "a-bot", "--json")
    key_id = json.loads(made.stdout)["key"]["key_id"]
    other = await cli(target, "admin-b", "keys", "revoke", key_id)
    assert (
        other.exit_code == 1 and "NOT_FOUND" in other.stderr and "API_KEY_NOT_FOUND" in other.stderr
    )
    denied = await cli(target, "reviewer-a", "keys", "list")
    assert denied.exit_code == 1 and "PERMISSION_DENIED" in denied.stderr
    bad = await cli(target, "admin-a", "keys", "create", "v", "--kind", "vendor")
    assert bad.exit_code == 1 and "vendor_id" in bad.stderr
    assert "Traceback" not in bad.output

"""``labelops keys create | list | rotate | revoke``: API keys of your tenant (admin only).

Keys live hashed in Postgres (``labelops_auth.api_keys``) and every service mounts
``labelops.admin.v1.CredentialService``; the CLI asks one of them (``--service``, default
ontology). A new or rotated key is printed once (the secret is never shown again) and works on
every service within about a second; a revoked one stops as fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from labelops.admin.v1 import credentials_pb2 as pb
from labelops.admin.v1 import credentials_pb2_grpc as pb_grpc
from labelops.events.v1 import envelope_pb2

from labelops_cli.config import Config
from labelops_cli.grpc import connect, die, run
from labelops_cli.output import console, enum_name, err_console, print_json, table, timestamp

app = typer.Typer(help="API keys of your tenant: create, list, rotate, revoke (admin only).")

SERVICES = ("ontology", "curation", "routing", "prelabel", "qa", "datasets")
ServiceOpt = Annotated[
    str, typer.Option("--service", help=f"Which service to ask (any of {', '.join(SERVICES)}).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class Kind(StrEnum):
    user = "user"
    vendor = "vendor"
    model = "model"
    service = "service"


_KINDS = {
    Kind.user: envelope_pb2.ACTOR_KIND_USER,
    Kind.vendor: envelope_pb2.ACTOR_KIND_VENDOR,
    Kind.model: envelope_pb2.ACTOR_KIND_MODEL,
    Kind.service: envelope_pb2.ACTOR_KIND_SERVICE,
}


def _service(name: str) -> str:
    if name not in SERVICES:
        die(f"--service must be one of {', '.join(SERVICES)}")
    return name


def _expiry(days: float | None) -> Timestamp | None:
    if days is None:
        return None
    t = Timestamp()
    t.FromDatetime(datetime.now(UTC) + timedelta(days=days))
    return t


def _row(k: pb.ApiKey) -> tuple[str, ...]:
    return (
        k.key_id,
        k.subject,
        enum_name(k.kind, envelope_pb2.ActorKind, "ACTOR_KIND_"),
        ", ".join(k.roles) or "-",
        k.vendor_id or "-",
        enum_name(k.state, pb.ApiKeyState, "API_KEY_STATE_"),
        timestamp(k.expire_time) if k.HasField("expire_time") else "never",
        k.rotated_from or "-",
    )


def _show_secret(key: pb.ApiKey, api_key: str, verb: str) -> None:
    # The key on stdout alone (scripts capture it); the note on stderr.
    err_console().print(
        f"{verb} key {key.key_id} for {key.subject}; it is shown only now:", markup=False
    )
    console().print(api_key, markup=False, soft_wrap=True)


@app.command()
def create(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Who the key authenticates as.")],
    kind: Annotated[Kind, typer.Option(help="Principal kind.")] = Kind.user,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="Role of a user key (repeatable): admin, manager, ..."),
    ] = None,
    vendor_id: Annotated[str, typer.Option(help="Vendor keys: the vendor's id.")] = "",
    expires_in_days: Annotated[
        float | None, typer.Option(min=0.0, help="Expire after this many days (default never).")
    ] = None,
    service: ServiceOpt = "ontology",
    json_out: JsonOpt = False,
) -> None:
    """Create a key; prints it once."""
    cfg: Config = ctx.obj
    target = _service(service)

    async def go() -> None:
        async with connect(cfg, target) as ch:
            resp = await pb_grpc.CredentialServiceStub(ch).CreateApiKey(
                pb.CreateApiKeyRequest(
                    subject=subject,
                    kind=_KINDS[kind],  # type: ignore[arg-type]
                    roles=role or [],
                    vendor_id=vendor_id,
                    expire_time=_expiry(expires_in_days),
                )
            )
        if json_out:
            print_json({"key": resp.key, "api_key": resp.api_key})
            return
        _show_secret(resp.key, resp.api_key, "created")

    run(go())


@app.command("list")
def list_(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include revoked and expired keys.")
    ] = False,
    service: ServiceOpt = "ontology",
    json_out: JsonOpt = False,
) -> None:
    """List the tenant's keys (never their secrets)."""
    cfg: Config = ctx.obj
    target = _service(service)

    async def go() -> None:
        keys: list[pb.ApiKey] = []
        async with connect(cfg, target) as ch:
            stub = pb_grpc.CredentialServiceStub(ch)
            token = ""
            while True:
                resp = await stub.ListApiKeys(
                    pb.ListApiKeysRequest(page_size=1000, page_token=token, show_inactive=show_all)
                )
                keys += resp.keys
                token = resp.next_page_token
                if not token:
                    break
        if json_out:
            print_json(keys)
            return
        columns = ["key", "subject", "kind", "roles", "vendor", "state", "expires", "rotated from"]
        console().print(table(f"{len(keys)} keys", columns, [_row(k) for k in keys]))

    run(go())


@app.command()
def rotate(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key to replace.")],
    grace_seconds: Annotated[
        int, typer.Option(min=0, help="How long the old key keeps working (default: not at all).")
    ] = 0,
    expires_in_days: Annotated[
        float | None, typer.Option(min=0.0, help="The new key expires after this many days.")
    ] = None,
    service: ServiceOpt = "ontology",
    json_out: JsonOpt = False,
) -> None:
    """Replace a key by a new one for the same principal; prints the new key once."""
    cfg: Config = ctx.obj
    target = _service(service)

    async def go() -> None:
        async with connect(cfg, target) as ch:
            resp = await pb_grpc.CredentialServiceStub(ch).RotateApiKey(
                pb.RotateApiKeyRequest(
                    key_id=key_id,
                    grace_period=Duration(seconds=grace_seconds),
                    expire_time=_expiry(expires_in_days),
                )
            )
        if json_out:
            print_json({"key": resp.key, "api_key": resp.api_key, "previous": resp.previous})
            return
        until = timestamp(resp.previous.expire_time)
        err_console().print(f"old key {key_id} stops working at {until}", markup=False)
        _show_secret(resp.key, resp.api_key, "rotated: new")

    run(go())


@app.command()
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key to revoke.")],
    service: ServiceOpt = "ontology",
    json_out: JsonOpt = False,
) -> None:
    """Revoke a key: it stops working on every service within about a second."""
    cfg: Config = ctx.obj
    target = _service(service)

    async def go() -> None:
        async with connect(cfg, target) as ch:
            resp = await pb_grpc.CredentialServiceStub(ch).RevokeApiKey(
                pb.RevokeApiKeyRequest(key_id=key_id)
            )
        if json_out:
            print_json(resp.key)
            return
        console().print(
            f"revoked key {resp.key.key_id} ({resp.key.subject}) at"
            f" {timestamp(resp.key.revoke_time)}",
            markup=False,
        )

    run(go())

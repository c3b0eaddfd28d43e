"""``labelops pools create | list`` (routing's workforce pools: where tasks are routed)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import routing_pb2_grpc

from labelops_cli.config import Config
from labelops_cli.grpc import connect, die, run
from labelops_cli.output import console, enum_name, print_json, table

app = typer.Typer(help="Workforce pools (in-house teams, vendors) that tasks are routed to.")


class PoolKind(StrEnum):
    in_house = "in-house"
    vendor = "vendor"


@app.command()
def create(
    ctx: typer.Context,
    pool_id: Annotated[str, typer.Argument(help="Pool id.")],
    kind: Annotated[PoolKind, typer.Option(help="In-house team or vendor workforce.")],
    vendor_id: Annotated[
        str, typer.Option(help="Vendor pools: the vendor_id of the keys that may work it.")
    ] = "",
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    capacity: Annotated[
        int, typer.Option(min=0, help="Most open tasks at once (0 = unlimited).")
    ] = 0,
    cost: Annotated[float, typer.Option(min=0, help="Cost per task.")] = 0.0,
    qualified_class: Annotated[
        list[str] | None,
        typer.Option(
            "--class", help="Classes the pool is qualified for (repeatable; default all)."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a pool."""
    cfg: Config = ctx.obj
    if kind == PoolKind.vendor and not vendor_id:
        die("a vendor pool needs --vendor-id")

    async def go() -> None:
        async with connect(cfg, "routing") as ch:
            resp = await routing_pb2_grpc.RoutingServiceStub(ch).CreatePool(
                pb.CreatePoolRequest(
                    pool=pb.Pool(
                        pool_id=pool_id,
                        display_name=name or pool_id,
                        kind=pb.POOL_KIND_VENDOR
                        if kind == PoolKind.vendor
                        else pb.POOL_KIND_IN_HOUSE,
                        vendor_id=vendor_id,
                        capacity=capacity,
                        cost_per_task=cost,
                        qualified_classes=qualified_class or [],
                        active=True,
                    )
                )
            )
        if json_out:
            print_json(resp.pool)
            return
        p = resp.pool
        console().print(
            f"created {enum_name(p.kind, pb.PoolKind, 'POOL_KIND_')} pool {p.pool_id}"
            + (f" (vendor {p.vendor_id})" if p.vendor_id else ""),
            markup=False,
        )

    run(go())


@app.command("list")
def list_(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List pools with their current load."""
    cfg: Config = ctx.obj

    async def go() -> None:
        async with connect(cfg, "routing") as ch:
            resp = await routing_pb2_grpc.RoutingServiceStub(ch).ListPools(pb.ListPoolsRequest())
        if json_out:
            print_json(list(resp.pools))
            return
        rows = [
            (
                p.pool_id,
                enum_name(p.kind, pb.PoolKind, "POOL_KIND_"),
                p.vendor_id,
                p.capacity or "∞",
                f"{p.cost_per_task:g}",
                ", ".join(p.qualified_classes) or "all",
                "yes" if p.active else "no",
                p.outstanding,
            )
            for p in resp.pools
        ]
        console().print(
            table(
                f"{len(rows)} pools",
                ["pool", "kind", "vendor", "capacity", "cost", "classes", "active", "outstanding"],
                rows,
            )
        )

    run(go())

"""``labelops projects create | list | stats`` (routing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Annotated

import grpc
import typer
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import routing_pb2_grpc
from labelops_grpckit import error_details

from labelops_cli.config import Config
from labelops_cli.grpc import connect, run
from labelops_cli.inputs import load_message
from labelops_cli.output import console, err_console, print_json, table, timestamp

app = typer.Typer(help="Labeling projects: create, list, queue statistics.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


async def latest_ontology_version(cfg: Config, ontology_id: str) -> str:
    """The newest published version of an ontology (asked from the ontology service)."""
    async with connect(cfg, "ontology") as ch:
        resp = await ontology_pb2_grpc.OntologyServiceStub(ch).GetOntologyVersion(
            opb.GetOntologyVersionRequest(ontology_id=ontology_id, version="latest")
        )
    return str(resp.version.version)


@app.command()
def create(
    ctx: typer.Context,
    project_id: Annotated[str, typer.Argument(help="Project id.")],
    dataset: Annotated[
        str, typer.Option(help="Curation dataset whose included items become tasks.")
    ] = "",
    ontology: Annotated[str, typer.Option(help="Ontology id.")] = "",
    ontology_version: Annotated[
        str, typer.Option(help="Exact published version (default: the latest).")
    ] = "",
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    config: Annotated[
        Path | None, typer.Option(help="WorkflowConfig as JSON / YAML (overlap, review, ...).")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="RoutingRules as JSON / YAML (default: hybrid rules).")
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for routing to learn a just-published ontology version."
        ),
    ] = 30.0,
    json_out: JsonOpt = False,
) -> None:
    """Create a labeling project on a dataset and an ontology version."""
    cfg: Config = ctx.obj

    async def go() -> None:
        req = pb.CreateProjectRequest(
            project_id=project_id,
            display_name=name or project_id,
            dataset_id=dataset,
            ontology_id=ontology,
            ontology_version=ontology_version,
            request_id=str(uuid.uuid4()),
        )
        if config is not None:
            req.config.CopyFrom(load_message(config, pb.WorkflowConfig))
        if rules is not None:
            req.rules.CopyFrom(load_message(rules, pb.RoutingRules))
        if ontology and not ontology_version:
            req.ontology_version = await latest_ontology_version(cfg, ontology)
        resp = await create_when_known(cfg, req, wait)
        if json_out:
            print_json(resp)
            return
        p = resp.project
        console().print(
            f"created project {p.project_id} on dataset {p.dataset_id or '—'}, ontology "
            f"{p.ontology_id} {p.ontology_version}: {resp.tasks_created} task(s) from items "
            f"already included, rules version {resp.rules.version}",
            markup=False,
        )

    run(go())


async def create_when_known(
    cfg: Config, req: pb.CreateProjectRequest, wait: float
) -> pb.CreateProjectResponse:
    """CreateProject, asked again (for up to ``wait`` seconds, with a spinner) while routing
    does not know the ontology version yet."""
    deadline = time.monotonic() + wait
    spinner = err_console().status(
        f"waiting for routing to learn ontology {req.ontology_id} {req.ontology_version}"
    )
    waiting = False
    try:
        async with connect(cfg, "routing") as ch:
            stub = routing_pb2_grpc.RoutingServiceStub(ch)
            while True:
                try:
                    resp: pb.CreateProjectResponse = await stub.CreateProject(req)
                    return resp
                except grpc.aio.AioRpcError as exc:
                    # Routing learns published versions from Kafka, a moment after the
                    # ontology service answered the publish.
                    unknown = (
                        exc.code() == grpc.StatusCode.FAILED_PRECONDITION
                        and error_details(exc).reason == "ONTOLOGY_VERSION_UNKNOWN"
                    )
                    if not unknown or time.monotonic() > deadline:
                        raise
                    if not waiting:
                        spinner.start()
                        waiting = True
                    await asyncio.sleep(0.5)
    finally:
        if waiting:
            spinner.stop()


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List projects."""
    cfg: Config = ctx.obj

    async def go() -> None:
        projects: list[pb.Project] = []
        async with connect(cfg, "routing") as ch:
            stub = routing_pb2_grpc.RoutingServiceStub(ch)
            token = ""
            while True:
                resp = await stub.ListProjects(
                    pb.ListProjectsRequest(page_size=100, page_token=token)
                )
                projects.extend(resp.projects)
                token = resp.next_page_token
                if not token:
                    break
        if json_out:
            print_json(projects)
            return
        rows = [
            (
                p.project_id,
                p.display_name,
                p.dataset_id,
                f"{p.ontology_id} {p.ontology_version}",
                f"{p.tasks_labeled}/{p.tasks_total}",
                timestamp(p.create_time),
            )
            for p in projects
        ]
        console().print(
            table(
                f"{len(rows)} projects",
                ["id", "name", "dataset", "ontology", "labeled/tasks", "created (UTC)"],
                rows,
            )
        )

    run(go())


@app.command()
def stats(
    ctx: typer.Context,
    project_id: Annotated[str, typer.Argument(help="Project id.")],
    json_out: JsonOpt = False,
) -> None:
    """Queue depth, leases and age per pool of a project (GetQueueStats)."""
    cfg: Config = ctx.obj

    async def go() -> None:
        async with connect(cfg, "routing") as ch:
            stub = routing_pb2_grpc.RoutingServiceStub(ch)
            project = (await stub.GetProject(pb.GetProjectRequest(project_id=project_id))).project
            resp = await stub.GetQueueStats(pb.GetQueueStatsRequest(project_id=project_id))
        if json_out:
            print_json({"project": project, "pools": list(resp.pools)})
            return
        rows = [
            (
                q.pool_id,
                q.depth,
                q.active_leases,
                q.outstanding,
                f"{q.oldest_age_seconds:.0f}s" if q.oldest_age_seconds else "",
            )
            for q in resp.pools
        ]
        title = f"{project.project_id}: {project.tasks_labeled}/{project.tasks_total} tasks labeled"
        if not rows:
            console().print(f"{title}; no pool has tasks queued", markup=False)
            return
        console().print(
            table(title, ["pool", "depth", "active leases", "outstanding", "oldest"], rows)
        )

    run(go())

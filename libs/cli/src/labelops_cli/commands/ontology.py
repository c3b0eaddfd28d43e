"""``labelops ontology create | publish | list | get``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from labelops.ontology.v1 import definition_pb2 as dpb
from labelops.ontology.v1 import ontology_pb2 as pb
from labelops.ontology.v1 import ontology_pb2_grpc

from labelops_cli.config import Config
from labelops_cli.grpc import CliError, connect, run
from labelops_cli.inputs import load_document, parse_message
from labelops_cli.output import console, enum_name, print_json, table, timestamp

app = typer.Typer(help="Ontologies: create from a file, publish versions, list, show.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

#: Keys that make a file a whole CreateOntologyRequest rather than a bare definition.
_REQUEST_KEYS = {"ontology_id", "ontologyId", "display_name", "displayName", "definition"}


def request_from_document(
    doc: Any, source: str, *, ontology_id: str, display_name: str, description: str
) -> pb.CreateOntologyRequest:
    """A CreateOntologyRequest from a file's content: either ``{ontology_id, display_name,
    description, definition}`` or a bare definition ``{classes, relationships}``; options win
    over the file."""
    if not isinstance(doc, dict):
        raise CliError(f"{source}: expected an object with 'classes' or 'definition'")
    if _REQUEST_KEYS & set(doc):
        definition_doc = doc.get("definition", {})
        ontology_id = ontology_id or doc.get("ontology_id") or doc.get("ontologyId") or ""
        display_name = display_name or doc.get("display_name") or doc.get("displayName") or ""
        description = description or doc.get("description") or ""
        unknown = set(doc) - _REQUEST_KEYS - {"description"}
        if unknown:
            raise CliError(f"{source}: unknown keys {sorted(unknown)}")
    else:
        definition_doc = doc
    definition = parse_message(definition_doc, dpb.OntologyDefinition, f"{source}: definition")
    return pb.CreateOntologyRequest(
        ontology_id=str(ontology_id),
        display_name=str(display_name),
        description=str(description),
        definition=definition,
        request_id=str(uuid.uuid4()),
    )


def _summary(o: pb.Ontology) -> str:
    d = o.draft
    return (
        f"{o.ontology_id} ({o.display_name}) — {len(d.classes)} classes, "
        f"draft revision {o.draft_revision}, versions: {', '.join(o.versions) or 'none'}"
    )


@app.command()
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON or YAML: a definition or a whole request.")],
    ontology_id: Annotated[
        str, typer.Option("--id", help="Ontology id (else from the file).")
    ] = "",
    name: Annotated[str, typer.Option("--name", help="Display name (else from the file).")] = "",
    description: Annotated[str, typer.Option(help="Description (else from the file).")] = "",
    publish: Annotated[bool, typer.Option(help="Publish the draft as a version at once.")] = False,
    version: Annotated[
        str,
        typer.Option(help="Version to publish with --publish (default: chosen by the service)."),
    ] = "",
    json_out: JsonOpt = False,
) -> None:
    """Create an ontology (its draft) from a definition file."""
    cfg: Config = ctx.obj

    async def go() -> None:
        req = request_from_document(
            load_document(file),
            str(file),
            ontology_id=ontology_id,
            display_name=name,
            description=description,
        )
        async with connect(cfg, "ontology") as ch:
            stub = ontology_pb2_grpc.OntologyServiceStub(ch)
            created = (await stub.CreateOntology(req)).ontology
            published = None
            if publish:
                published = (
                    await stub.PublishOntologyVersion(
                        pb.PublishOntologyVersionRequest(
                            ontology_id=created.ontology_id,
                            expected_revision=created.draft_revision,
                            version=version,
                            request_id=str(uuid.uuid4()),
                        )
                    )
                ).version
        if json_out:
            print_json({"ontology": created, **({"version": published} if published else {})})
            return
        console().print(f"created ontology {_summary(created)}", markup=False)
        if published is not None:
            console().print(
                f"published {published.ontology_id} version {published.version}", markup=False
            )

    run(go())


@app.command()
def publish(
    ctx: typer.Context,
    ontology_id: Annotated[str, typer.Argument(help="Ontology id.")],
    version: Annotated[
        str, typer.Option(help="Semantic version (default: chosen from the changes).")
    ] = "",
    notes: Annotated[str, typer.Option(help="Release notes.")] = "",
    revision: Annotated[
        int, typer.Option(help="Draft revision to publish (default: the current one).")
    ] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Publish the current draft as an immutable version."""
    cfg: Config = ctx.obj

    async def go() -> None:
        async with connect(cfg, "ontology") as ch:
            stub = ontology_pb2_grpc.OntologyServiceStub(ch)
            expected = revision
            if not expected:
                got = await stub.GetOntology(pb.GetOntologyRequest(ontology_id=ontology_id))
                expected = got.ontology.draft_revision
            resp = await stub.PublishOntologyVersion(
                pb.PublishOntologyVersionRequest(
                    ontology_id=ontology_id,
                    expected_revision=expected,
                    version=version,
                    notes=notes,
                    request_id=str(uuid.uuid4()),
                )
            )
        v = resp.version
        if json_out:
            print_json(v)
            return
        breaking = sum(1 for c in v.changes if c.breaking)
        console().print(
            f"published {v.ontology_id} version {v.version} ({len(v.changes)} change(s), "
            f"{breaking} breaking) fingerprint {v.fingerprint[:12]}",
            markup=False,
        )

    run(go())


@app.command("list")
def list_(
    ctx: typer.Context,
    deprecated: Annotated[bool, typer.Option(help="Include deprecated ontologies.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List ontologies."""
    cfg: Config = ctx.obj

    async def go() -> None:
        ontologies: list[pb.Ontology] = []
        async with connect(cfg, "ontology") as ch:
            stub = ontology_pb2_grpc.OntologyServiceStub(ch)
            token = ""
            while True:
                resp = await stub.ListOntologies(
                    pb.ListOntologiesRequest(
                        page_size=100, page_token=token, show_deprecated=deprecated
                    )
                )
                ontologies.extend(resp.ontologies)
                token = resp.next_page_token
                if not token:
                    break
        if json_out:
            print_json(ontologies)
            return
        rows = [
            (
                o.ontology_id,
                o.display_name,
                enum_name(o.state, pb.OntologyState, "ONTOLOGY_STATE_"),
                ", ".join(o.versions) or "—",
                o.draft_revision,
                timestamp(o.update_time),
            )
            for o in ontologies
        ]
        console().print(
            table(
                f"{len(rows)} ontologies",
                ["id", "name", "state", "versions", "draft rev", "updated (UTC)"],
                rows,
            )
        )

    run(go())


@app.command()
def get(
    ctx: typer.Context,
    ontology_id: Annotated[str, typer.Argument(help="Ontology id.")],
    version: Annotated[
        str, typer.Option(help="A published version ('latest' = newest); default: the draft.")
    ] = "",
    json_out: JsonOpt = False,
) -> None:
    """Show an ontology's draft, or one published version."""
    cfg: Config = ctx.obj

    async def go() -> None:
        async with connect(cfg, "ontology") as ch:
            stub = ontology_pb2_grpc.OntologyServiceStub(ch)
            if version:
                v = (
                    await stub.GetOntologyVersion(
                        pb.GetOntologyVersionRequest(ontology_id=ontology_id, version=version)
                    )
                ).version
                definition, title = v.definition, f"{v.ontology_id} version {v.version}"
                payload: Any = v
            else:
                o = (
                    await stub.GetOntology(pb.GetOntologyRequest(ontology_id=ontology_id))
                ).ontology
                definition, title = o.draft, _summary(o)
                payload = o
        if json_out:
            print_json(payload)
            return
        rows = [
            (
                c.id,
                c.name,
                enum_name(c.geometry, dpb.GeometryKind, "GEOMETRY_KIND_"),
                ", ".join(k.id for k in c.classifications) or "",
                ", ".join(a.id for a in c.attributes) or "",
                "yes" if c.high_stakes else "",
                "yes" if c.deprecated else "",
            )
            for c in definition.classes
        ]
        console().print(
            table(
                title,
                [
                    "class",
                    "name",
                    "geometry",
                    "classifications",
                    "attributes",
                    "high stakes",
                    "dep.",
                ],
                rows,
            )
        )

    run(go())

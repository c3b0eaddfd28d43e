"""``labelops report``: live figures from the services in one small HTML file.

Service health, per project the queue statistics, agreement, annotator quality and pre-label
ROI, and the dataset versions. (The demo's report, ``python -m labelops_demo``, shows a
workflow run and is written by the demo itself.)

Agreement comes from QA's MeasureAgreement, which also publishes an ``AgreementMeasured``
event: a report run leaves one such event per project in the log.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer
from labelops.curation.v1 import curation_pb2, curation_pb2_grpc
from labelops.datasets.v1 import datasets_pb2, datasets_pb2_grpc
from labelops.prelabel.v1 import prelabel_pb2, prelabel_pb2_grpc
from labelops.qa.v1 import qa_pb2, qa_pb2_grpc
from labelops.routing.v1 import routing_pb2, routing_pb2_grpc
from labelops_grpckit import error_details

from labelops_cli import stack
from labelops_cli.config import Config
from labelops_cli.grpc import ServiceCallError, connect, describe, run
from labelops_cli.output import console, now_utc, number, timestamp

T = TypeVar("T")


@dataclass
class ProjectFigures:
    project: routing_pb2.Project
    queues: list[routing_pb2.QueueStats] = field(default_factory=list)
    agreement: list[qa_pb2.AgreementReport] = field(default_factory=list)
    annotators: list[qa_pb2.AnnotatorQuality] = field(default_factory=list)
    roi: list[prelabel_pb2.ClassRoi] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Figures:
    health: dict[str, str] = field(default_factory=dict)
    projects: list[ProjectFigures] = field(default_factory=list)
    versions: dict[str, list[datasets_pb2.DatasetVersion]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


async def _attempt(errors: list[str], what: str, call: Callable[[], Awaitable[T]]) -> T | None:
    # A report shows what it could gather; a service that is down is one line in it.
    try:
        return await call()
    except ServiceCallError as exc:
        errors.append(f"{what}: {exc}")
    except grpc.RpcError as exc:
        errors.append(f"{what}: {describe(exc)}")
    return None


async def gather(
    cfg: Config, datasets: Sequence[str] = (), projects: Sequence[str] = ()
) -> Figures:
    """Everything the report shows, asked from the running services: every project routing
    lists (and those named in ``projects``), the versions of ``datasets`` and of the datasets
    and projects found."""
    figs = Figures()
    states = await asyncio.gather(*(stack.grpc_health(cfg.target(s)) for s in stack.SERVICES))
    figs.health = dict(zip(stack.SERVICES, states, strict=True))
    for p in (await _projects(cfg, projects, figs.errors)).values():
        figs.projects.append(await _project_figures(cfg, p))
    for ds in await _dataset_candidates(cfg, datasets, figs):
        got = await _attempt(figs.errors, f"versions of {ds}", partial(_versions, cfg, ds))
        if got is not None and got.versions:
            figs.versions[ds] = list(got.versions)
    return figs


async def _projects(
    cfg: Config, named: Sequence[str], errors: list[str]
) -> dict[str, routing_pb2.Project]:
    """Every project routing lists, and those ``named`` besides, by id."""
    found = {p.project_id: p for p in await _attempt(errors, "projects", partial(_list, cfg)) or []}
    for pid in named:
        if pid not in found:
            got = await _attempt(errors, f"project {pid}", partial(_project, cfg, pid))
            if got is not None:
                found[pid] = got
    return found


async def _project_figures(cfg: Config, project: routing_pb2.Project) -> ProjectFigures:
    pf = ProjectFigures(project)
    pid = project.project_id
    q, a, n, r = await asyncio.gather(
        _attempt(pf.errors, "queue stats", partial(_queues, cfg, pid)),
        _attempt(pf.errors, "agreement", partial(_agreement, cfg, pid)),
        _attempt(pf.errors, "annotator quality", partial(_annotators, cfg, pid)),
        _attempt(pf.errors, "pre-label ROI", partial(_roi, cfg, pid)),
    )
    pf.queues = list(q.pools) if q else []
    pf.agreement = list(a.reports) if a else []
    pf.annotators = list(n.annotators) if n else []
    pf.roi = list(r.classes) if r else []
    return pf


async def _dataset_candidates(cfg: Config, datasets: Sequence[str], figs: Figures) -> list[str]:
    # The datasets service has no list of datasets: try the ids people use for them.
    candidates = list(dict.fromkeys([*datasets, *(p.project.project_id for p in figs.projects)]))
    listed = await _attempt(figs.errors, "curation datasets", partial(_curation_datasets, cfg))
    candidates += [d for d in listed or [] if d not in candidates]
    return candidates


# One call each, on its own channel (as the report always did).


async def _list(cfg: Config) -> list[routing_pb2.Project]:
    async with connect(cfg, "routing") as ch:
        resp = await routing_pb2_grpc.RoutingServiceStub(ch).ListProjects(
            routing_pb2.ListProjectsRequest(page_size=1000)
        )
    return list(resp.projects)


async def _project(cfg: Config, pid: str) -> routing_pb2.Project:
    async with connect(cfg, "routing") as ch:
        resp = await routing_pb2_grpc.RoutingServiceStub(ch).GetProject(
            routing_pb2.GetProjectRequest(project_id=pid)
        )
    project: routing_pb2.Project = resp.project
    return project


async def _queues(cfg: Config, pid: str) -> Any:
    async with connect(cfg, "routing") as ch:
        return await routing_pb2_grpc.RoutingServiceStub(ch).GetQueueStats(
            routing_pb2.GetQueueStatsRequest(project_id=pid)
        )


async def _agreement(cfg: Config, pid: str) -> Any:
    async with connect(cfg, "qa") as ch:
        try:
            return await qa_pb2_grpc.QualityServiceStub(ch).MeasureAgreement(
                qa_pb2.MeasureAgreementRequest(project_id=pid)
            )
        except grpc.aio.AioRpcError as exc:
            if error_details(exc).reason == "NO_LABELS":  # nothing to measure yet
                return qa_pb2.MeasureAgreementResponse()
            raise


async def _annotators(cfg: Config, pid: str) -> Any:
    async with connect(cfg, "qa") as ch:
        return await qa_pb2_grpc.QualityServiceStub(ch).GetAnnotatorQuality(
            qa_pb2.GetAnnotatorQualityRequest(project_id=pid)
        )


async def _roi(cfg: Config, pid: str) -> Any:
    async with connect(cfg, "prelabel") as ch:
        return await prelabel_pb2_grpc.PrelabelServiceStub(ch).GetClassRoi(
            prelabel_pb2.GetClassRoiRequest(project_id=pid)
        )


async def _curation_datasets(cfg: Config) -> list[str]:
    async with connect(cfg, "curation") as ch:
        resp = await curation_pb2_grpc.CurationServiceStub(ch).ListDatasets(
            curation_pb2.ListDatasetsRequest(page_size=1000)
        )
    return [d.dataset_id for d in resp.datasets]


async def _versions(cfg: Config, ds: str) -> Any:
    async with connect(cfg, "datasets") as ch:
        return await datasets_pb2_grpc.DatasetServiceStub(ch).ListDatasetVersions(
            datasets_pb2.ListDatasetVersionsRequest(dataset_id=ds, page_size=1000)
        )


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .bad { color: #cf222e; } .muted { color: #777; }
"""


def _cell(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="n">{html.escape(str(value))}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(figs: Figures) -> str:
    """The report as one self-contained HTML page."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>labelops report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>labelops report</h1>",
        f"<p class='muted'>generated {now_utc():%Y-%m-%d %H:%M:%S} UTC from the live services</p>",
        "<h2>Services</h2>",
    ]
    parts.append(
        _table(
            ["service", "health"],
            [(s, h) for s, h in figs.health.items()],
            "no services",
        ).replace("<td>SERVING</td>", "<td class='ok'>SERVING</td>")
    )
    parts.append("<h2>Projects</h2>")
    if not figs.projects:
        parts.append("<p class='muted'>no projects</p>")
    for pf in figs.projects:
        parts.extend(_project_html(pf))
    parts.append("<h2>Dataset versions</h2>")
    parts.append(_versions_html(figs.versions))
    if figs.errors:
        parts.append("<h2>Not available</h2>")
        parts.extend(f"<p class='bad'>{html.escape(e)}</p>" for e in figs.errors)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _project_html(pf: ProjectFigures) -> list[str]:
    p = pf.project
    parts = [
        f"<h3>{html.escape(p.project_id)} — {html.escape(p.display_name)}</h3>"
        f"<p>dataset {html.escape(p.dataset_id or '—')}, ontology "
        f"{html.escape(p.ontology_id)} {html.escape(p.ontology_version)}, "
        f"{p.tasks_labeled} of {p.tasks_total} tasks labeled</p>",
        "<h4>Queues</h4>",
        _table(
            ["pool", "depth", "active leases", "outstanding", "oldest (s)"],
            [
                (q.pool_id, q.depth, q.active_leases, q.outstanding, round(q.oldest_age_seconds))
                for q in pf.queues
            ],
            "no queued tasks",
        ),
        "<h4>Agreement</h4>",
        _agreement_html(pf.agreement),
        "<h4>Annotators (gold)</h4>",
        _annotators_html(pf.annotators),
        "<h4>Pre-label ROI</h4>",
        _roi_html(pf.roi),
    ]
    parts.extend(f"<p class='bad'>{html.escape(err)}</p>" for err in pf.errors)
    return parts


def _agreement_html(reports: Sequence[qa_pb2.AgreementReport]) -> str:
    return _table(
        ["items", "annotators", "Krippendorff alpha", "Fleiss kappa", "classes (alpha)"],
        [
            (
                r.items,
                r.annotators,
                number(r.krippendorff_alpha),
                number(r.fleiss_kappa),
                ", ".join(f"{c.class_id} {number(c.krippendorff_alpha, 2)}" for c in r.classes),
            )
            for r in reports
        ],
        "no overlapping labels yet",
    )


def _annotators_html(annotators: Sequence[qa_pb2.AnnotatorQuality]) -> str:
    return _table(
        ["annotator", "gold answered", "accuracy", "recent accuracy", "drifting"],
        [
            (
                a.annotator_id,
                a.gold_answered,
                number(a.gold_accuracy),
                number(a.recent_accuracy),
                "yes" if a.drifting else "",
            )
            for a in annotators
        ],
        "no gold answers yet",
    )


def _roi_html(classes: Sequence[prelabel_pb2.ClassRoi]) -> str:
    return _table(
        ["class", "pre-labels on", "pre-labeled", "from scratch", "acceptance", "saving (s)"],
        [
            (
                c.class_id,
                "yes" if c.enabled else "no",
                c.prelabeled,
                c.from_scratch,
                number(c.acceptance_rate, 2) if c.HasField("acceptance_rate") else "",
                number(c.saving_s, 1) if c.HasField("saving_s") else "",
            )
            for c in classes
        ],
        "no pre-label observations yet",
    )


def _versions_html(versions: dict[str, list[datasets_pb2.DatasetVersion]]) -> str:
    rows = [
        (
            ds,
            v.version,
            v.project_id,
            v.rows,
            v.labels,
            f"{v.ontology_id} {v.ontology_version}",
            v.manifest_sha256[:12],
            timestamp(v.create_time),
        )
        for ds, vs in versions.items()
        for v in vs
    ]
    return _table(
        ["dataset", "version", "project", "rows", "labels", "ontology", "manifest", "created"],
        rows,
        "no dataset versions",
    )


def register(app: typer.Typer) -> None:
    app.command()(report)


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", help="Dataset ids whose versions to show (repeatable)."),
    ] = None,
    project: Annotated[
        list[str] | None,
        typer.Option("--project", help="Projects to show besides those listed (repeatable)."),
    ] = None,
    builtin: Annotated[
        bool,
        typer.Option(
            "--builtin",
            hidden=True,
            help="Accepted for scripts written for earlier versions: the report is always this.",
        ),
    ] = False,
) -> None:
    """Write an HTML report of live figures (queues, agreement, quality, ROI, versions)."""
    cfg: Config = ctx.obj
    figs = run(gather(cfg, dataset or [], project or []))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(figs), encoding="utf-8")
    console().print(
        f"wrote {out}: {len(figs.projects)} project(s), "
        f"{sum(len(v) for v in figs.versions.values())} dataset version(s)"
        + (f", {len(figs.errors)} figure(s) unavailable" if figs.errors else ""),
        markup=False,
    )

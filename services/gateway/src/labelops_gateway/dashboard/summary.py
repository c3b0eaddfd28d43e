"""``GET /v1/dashboard/summary``: one project's (and dataset's) figures for the dashboard.

Fans out to the services with the caller's credentials and returns plain JSON: queue depth per
pool, agreement per class, annotators' gold accuracy and drift, pre-label ROI per class, the
serving model's accuracy per version against the labels it was trained on, dataset versions
and the diff of the last two. A service that fails leaves its section empty and names itself
in ``errors``: a dashboard shows what it can.

Agreement is measured by QA's ``MeasureAgreement``, which publishes ``AgreementMeasured``; the
gateway keeps each caller's measurement of a project for ``AGREEMENT_TTL_S`` so that a
dashboard polling every few seconds adds at most one measurement a minute. The cache is keyed
by the caller (tenant, kind, subject): a measurement is never shown to anyone but the caller
QA gave it to (another tenant's project of the same id, or a caller QA would refuse).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from labelops.datasets.v1 import datasets_pb2 as dst
from labelops.prelabel.v1 import prelabel_pb2 as pre
from labelops.qa.v1 import qa_pb2 as qa
from labelops.routing.v1 import routing_pb2 as rt

from ..adapters.backends import BackendError, Backends
from ..entrypoints.access import Caller, principal_key
from ..entrypoints.credentials import Creds
from ..entrypoints.routes.common import BackendsDep

AGREEMENT_TTL_S = 60.0
OptionalId = Annotated[str, Query(max_length=512, description="empty: leave that section out")]

router = APIRouter()
_agreement_cache: dict[tuple[int, tuple[str, str, str], str], tuple[float, Any]] = {}
#: Entries kept at most (the oldest go first).
AGREEMENT_CACHE_MAX = 10_000


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


async def _try(errors: list[str], service: str, call: Awaitable[Any]) -> Any:
    try:
        return await call
    except BackendError as exc:
        errors.append(f"{service}: {exc.error.code().name}: {exc.error.details()}")
        return None


async def _agreement(
    backends: Backends, creds: Any, caller: tuple[str, str, str], project_id: str
) -> Any:
    key = (id(backends), caller, project_id)
    hit = _agreement_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < AGREEMENT_TTL_S:
        return hit[1]
    resp = await backends.call(
        "qa", "MeasureAgreement", qa.MeasureAgreementRequest(project_id=project_id), creds
    )
    _agreement_cache.pop(key, None)
    _agreement_cache[key] = (time.monotonic(), resp)
    while len(_agreement_cache) > AGREEMENT_CACHE_MAX:
        del _agreement_cache[next(iter(_agreement_cache))]
    return resp


async def _project(
    backends: Backends,
    creds: Any,
    caller: tuple[str, str, str],
    project_id: str,
    out: dict[str, Any],
) -> None:
    errors: list[str] = out["errors"]

    def call(service: str, method: str, request: Any) -> Awaitable[Any]:
        return _try(errors, service, backends.call(service, method, request, creds))

    project, stats, pools, annotators, quality, agreement, roi, models = await asyncio.gather(
        call("routing", "GetProject", rt.GetProjectRequest(project_id=project_id)),
        call("routing", "GetQueueStats", rt.GetQueueStatsRequest(project_id=project_id)),
        call("routing", "ListPools", rt.ListPoolsRequest()),
        call("routing", "ListAnnotators", rt.ListAnnotatorsRequest()),
        call("qa", "GetAnnotatorQuality", qa.GetAnnotatorQualityRequest(project_id=project_id)),
        _try(errors, "qa", _agreement(backends, creds, caller, project_id)),
        call("prelabel", "GetClassRoi", pre.GetClassRoiRequest(project_id=project_id)),
        call("prelabel", "ListModels", pre.ListModelsRequest(project_id=project_id)),
    )
    if project is not None:
        p = project.project
        out["throughput"].update(tasks_total=p.tasks_total, tasks_labeled=p.tasks_labeled)
    if stats is not None:
        out["queues"] = _queues(stats, pools)
    if quality is not None:
        out["annotators"] = _annotators(quality, annotators)
    if agreement is not None and agreement.reports:
        out["agreement"] = _agreement_section(agreement.reports[0])
    if roi is not None:
        out["prelabel_roi"] = [_class_roi(c) for c in roi.classes]
    serving = next((m for m in (models.models if models else []) if m.serving), None)
    if serving is not None:
        got = await call("prelabel", "GetModel", pre.GetModelRequest(model_id=serving.model_id))
        if got is not None:
            out["model"] = _model_curve(got)


def _queues(stats: rt.GetQueueStatsResponse, pools: Any) -> list[dict[str, Any]]:
    kinds = {
        q.pool_id: rt.PoolKind.Name(q.kind).removeprefix("POOL_KIND_").lower()
        for q in (pools.pools if pools is not None else [])
    }
    return [
        {
            "pool_id": s.pool_id,
            "kind": kinds.get(s.pool_id, ""),
            "queued": s.depth,
            "in_progress": s.active_leases,
            "outstanding": s.outstanding,
            "oldest_age_seconds": s.oldest_age_seconds,
            # Re-opened tasks no active annotator of the pool may take (routing flags them).
            "no_eligible_annotator": s.no_eligible_annotator,
            "flags": list(s.flags),
        }
        for s in stats.pools
    ]


def _annotators(quality: qa.GetAnnotatorQualityResponse, annotators: Any) -> list[dict[str, Any]]:
    pool_of = {a.annotator_id: a.pool_id for a in (annotators.annotators if annotators else [])}
    return [
        {
            "annotator_id": a.annotator_id,
            "pool_id": pool_of.get(a.annotator_id, ""),
            "gold_answers": a.gold_answered,
            "gold_accuracy": _num(a.gold_accuracy) if a.gold_answered else None,
            "recent_accuracy": _num(a.recent_accuracy) if a.gold_answered else None,
            "drift": a.drifting,
        }
        for a in quality.annotators
    ]


def _agreement_section(report: qa.AgreementReport) -> dict[str, Any]:
    return {
        "alpha": _num(report.krippendorff_alpha),
        "items": report.items,
        "per_class": [
            {"class_id": c.class_id, "alpha": _num(c.krippendorff_alpha)} for c in report.classes
        ],
    }


def _class_roi(c: pre.ClassRoi) -> dict[str, Any]:
    return {
        "class_id": c.class_id,
        "enabled": c.enabled,
        "prelabeled": c.prelabeled,
        "from_scratch": c.from_scratch,
        "acceptance_rate": c.acceptance_rate if c.HasField("acceptance_rate") else None,
        "median_prelabeled_s": (
            c.median_prelabeled_s if c.HasField("median_prelabeled_s") else None
        ),
        "median_scratch_s": c.median_scratch_s if c.HasField("median_scratch_s") else None,
    }


def _model_curve(model: pre.GetModelResponse) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "version": v.version,
                "trained_on": v.trained_on,
                "accuracy": _num(v.metrics.accuracy) if v.metrics.available else None,
            }
            for v in model.versions
        ),
        key=lambda v: v["trained_on"],
    )


async def _dataset(backends: Backends, creds: Any, dataset_id: str, out: dict[str, Any]) -> None:
    errors: list[str] = out["errors"]

    def call(method: str, request: Any) -> Awaitable[Any]:
        return _try(errors, "datasets", backends.call("datasets", method, request, creds))

    listed = await call(
        "ListDatasetVersions", dst.ListDatasetVersionsRequest(dataset_id=dataset_id, page_size=100)
    )
    if listed is None:
        return
    versions = sorted(listed.versions, key=lambda v: v.version)
    out["versions"] = [
        {
            "version": v.version,
            "rows": v.rows,
            "labels": v.labels,
            "files": v.files,
            "manifest_sha256": v.manifest_sha256,
            "create_time": v.create_time.ToJsonString(),
        }
        for v in versions
    ]
    if len(versions) >= 2:
        a, b = versions[-2].version, versions[-1].version
        diff = await call(
            "DiffDatasetVersions",
            dst.DiffDatasetVersionsRequest(
                dataset_id=dataset_id, from_version=a, to_version=b, page_size=1
            ),
        )
        if diff is not None:
            s = diff.summary
            out["diff"] = {
                "from_version": a,
                "to_version": b,
                "added": s.added,
                "removed": s.removed,
                "changed": s.changed,
                "unchanged": s.unchanged,
            }


@router.get(
    "/v1/dashboard/summary",
    tags=["dashboard"],
    summary="A project's and a dataset's figures for the dashboard (partial when a service fails)",
)
async def summary(
    backends: BackendsDep,
    creds: Creds,
    principal: Caller,
    project_id: OptionalId = "",
    dataset_id: OptionalId = "",
) -> dict[str, Any]:
    # The route table checked the caller (a missing key is a 401, not six empty sections);
    # each section is the service's answer to the same caller.
    out: dict[str, Any] = {
        "project_id": project_id,
        "dataset_id": dataset_id,
        "throughput": {},
        "queues": [],
        "agreement": {"alpha": None, "items": 0, "per_class": []},
        "annotators": [],
        "prelabel_roi": [],
        "model": [],
        "versions": [],
        "diff": None,
        "errors": [],
    }
    jobs = []
    if project_id:
        jobs.append(_project(backends, creds, principal_key(principal), project_id, out))
    if dataset_id:
        jobs.append(_dataset(backends, creds, dataset_id, out))
    await asyncio.gather(*jobs)
    return out

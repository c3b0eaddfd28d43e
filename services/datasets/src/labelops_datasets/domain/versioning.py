"""The decisions of CreateDatasetVersion (pure): request checks, the version's number and
project, its cut as offsets, its target ontology, and the record that is stored and published.

The gRPC request and record messages are the command and its result (protobuf messages are
plain values here); every rule raises the ``labelops_core.errors`` the API answers with.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sized
from datetime import UTC, datetime

from labelops.datasets.v1 import datasets_pb2 as pb
from labelops_core.context import DEFAULT_TENANT, Principal
from labelops_core.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from labelops_ontologykit.diff import parse_version

from labelops_datasets.domain.filters import RowFilter
from labelops_datasets.domain.splits import DEFAULT_RATIOS

DATASET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def dataset_stream(dataset_id: str, tenant_id: str = DEFAULT_TENANT) -> str:
    """The stream of a dataset's events. The event store keys streams by (stream id, tenant),
    so the tenant in the name no longer keeps two tenants' datasets apart; the names stay as
    they were written (a stream renamed now would start again at version 0 while its dataset
    has versions), the default tenant's ``datasets/{d}``, the others' with their tenant."""
    if tenant_id == DEFAULT_TENANT:
        return f"datasets/{dataset_id}"
    return f"tenants/{tenant_id}/datasets/{dataset_id}"


def version_name(dataset_id: str, version: int) -> str:
    return f"datasets/{dataset_id}/versions/{version}"


def creator(principal: Principal | None) -> str:
    """``kind:subject`` of who creates a version ("" without an authenticator)."""
    return "" if principal is None else f"{principal.kind}:{principal.subject}"


# ------------------------------------------------------------------------------ the request


def check_create(req: pb.CreateDatasetVersionRequest) -> RowFilter:
    """The request's row filter; INVALID_ARGUMENT with every field violation found."""
    violations: list[FieldViolation] = []
    if not DATASET_ID.match(req.dataset_id):
        violations.append(FieldViolation("dataset_id", "3-63 lowercase letters, digits or '-'"))
    if req.version < 0:
        violations.append(FieldViolation("version", "must be >= 0"))
    row_filter = row_filter_of(req.filter, violations)
    if violations:
        raise InvalidArgument("invalid CreateDatasetVersion request", violations)
    return row_filter


def row_filter_of(f: pb.Filter, violations: list[FieldViolation]) -> RowFilter:
    """The ``RowFilter`` of a request's filter (default splits 0.8 / 0.1 / 0.1); its problems
    are added to ``violations``."""
    ratios: tuple[float, float, float] = (f.splits.train, f.splits.val, f.splits.test)
    if ratios == (0.0, 0.0, 0.0):
        ratios = DEFAULT_RATIOS
    rf = RowFilter(
        classes=tuple(sorted(set(f.class_ids))),
        min_consensus_score=f.min_consensus_score,
        review_decisions=tuple(sorted(set(f.review_decisions))),
        split_ratios=ratios,
        split_salt=f.splits.salt,
    )
    for field, description in rf.validate():
        violations.append(FieldViolation(f"filter.{field}", description))
    return rf


def filter_proto(f: RowFilter) -> pb.Filter:
    """The filter as the version record states it."""
    return pb.Filter(
        class_ids=list(f.classes),
        min_consensus_score=f.min_consensus_score,
        review_decisions=list(f.review_decisions),
        splits=pb.Splits(
            train=f.split_ratios[0],
            val=f.split_ratios[1],
            test=f.split_ratios[2],
            salt=f.split_salt,
        ),
    )


# ---------------------------------------------------------------------- number and project


def project_of(dataset_id: str, stored: str | None, requested: str) -> str:
    """The project of the dataset's next version: the one it holds (``stored``), else the
    requested one, which a first version must name."""
    if stored is None:
        if not requested:
            raise InvalidArgument(
                f"dataset {dataset_id} does not exist yet: name its project",
                [FieldViolation("project_id", "required for a dataset's first version")],
            )
        return requested
    if requested and requested != stored:
        raise FailedPrecondition(
            f"dataset {dataset_id} holds project {stored}, not {requested}",
            reason="DATASET_PROJECT_MISMATCH",
        )
    return stored


def check_project_known(project_id: str, stored: str | None, seen: Sized) -> None:
    """A dataset's first version needs a project the tenant has accepted labels of (``seen``:
    the ontology versions the link found its labels made under). The service knows projects
    only through their labels, so another tenant's project is as unknown as one nobody has:
    both answer NOT_FOUND. (Before, both got an empty version; the caller then read back its
    own version of another tenant's ids, which answered unlike ids nobody has.)"""
    if stored is None and not seen:
        raise NotFound(f"project {project_id} has no accepted labels", reason="PROJECT_NOT_FOUND")


def next_number(dataset_id: str, current: int, requested: int) -> int:
    """The next version's number after ``current``; a requested number must be that one
    (versions are immutable and numbered without gaps)."""
    number = current + 1
    if requested:
        if requested <= current:
            raise FailedPrecondition(
                f"version {requested} of {dataset_id} exists; versions are immutable",
                reason="VERSION_EXISTS",
            )
        if requested != number:
            raise FailedPrecondition(
                f"the next version of {dataset_id} is {number}, not {requested}",
                reason="VERSION_GAP",
            )
    return number


# ------------------------------------------------------------------------------------ cut


def cut_offsets(cut: pb.Cut, positions: Mapping[int, int], topic: str) -> dict[int, int] | None:
    """A latest or offsets cut as end offsets per partition (see ``final_cut``), none beyond
    ``positions`` (what is linked); None for a timestamp cut (see ``timestamp_cut``)."""
    kind = cut.WhichOneof("kind")
    if kind in (None, "latest"):
        return final_cut(positions)
    if kind != "offsets":
        return None
    resolved: dict[int, int] = {}
    violations = []
    for i, po in enumerate(cut.offsets.offsets):
        if po.topic and po.topic != topic:
            violations.append(FieldViolation(f"cut.offsets.offsets[{i}].topic", f"must be {topic}"))
        if po.partition < 0 or po.offset < 0:
            violations.append(FieldViolation(f"cut.offsets.offsets[{i}]", "must not be negative"))
        if po.partition in resolved:
            violations.append(FieldViolation(f"cut.offsets.offsets[{i}].partition", "listed twice"))
        resolved[po.partition] = po.offset
    if violations:
        raise InvalidArgument("invalid cut", violations)
    behind = {p: o for p, o in resolved.items() if o > positions.get(p, 0)}
    if behind:
        raise FailedPrecondition(
            "the projection has not reached the cut yet: "
            + ", ".join(
                f"partition {p} at {positions.get(p, 0)} < {o}" for p, o in sorted(behind.items())
            ),
            reason="PROJECTION_BEHIND",
        )
    return final_cut(resolved)


def cut_time(cut: pb.Cut, now: datetime) -> datetime:
    """The time of a timestamp cut; it must not be in the future."""
    at = cut.timestamp.ToDatetime(tzinfo=UTC)
    if at > now:
        raise InvalidArgument(
            "a timestamp cut must not be in the future",
            [FieldViolation("cut.timestamp", "must be at or before now")],
        )
    return at


def timestamp_cut(positions: Mapping[int, int], first_after: Mapping[int, int]) -> dict[int, int]:
    """Per partition, the records at or before the cut's time: up to the first offset after it
    (``first_after``), never beyond ``positions``."""
    return final_cut({p: min(first_after.get(p, o), o) for p, o in positions.items()})


def final_cut(resolved: Mapping[int, int]) -> dict[int, int]:
    """The cut as recorded: partitions in order, empty ones left out."""
    return {p: o for p, o in sorted(resolved.items()) if o > 0}


def check_items(item_ids: Iterable[str], registered: Container[str]) -> None:
    """Every labeled item needs its curation registration: a version built without it could
    not be rebuilt to the same bytes once the registration arrives."""
    missing = [i for i in item_ids if i not in registered]
    if missing:
        raise FailedPrecondition(
            f"{len(missing)} labeled items have no metadata from curation yet (e.g. "
            f"{', '.join(missing[:5])}); a version needs every item's registration so that "
            "rebuilding it gives the same bytes",
            reason="ITEM_METADATA_MISSING",
            metadata={"missing": str(len(missing))},
        )


# ------------------------------------------------------------------------------- ontology


def target_ontology(
    project_id: str,
    seen: Iterable[tuple[str, str, int, int]],
    cut: Mapping[int, int],
    requested: str,
) -> tuple[str, str]:
    """(ontology id, target version) of a version.

    ``seen``: (ontology_id, ontology_version, partition, first_offset) the project's labels
    were made under; those below the cut count. One ontology at most (else
    ``MIXED_ONTOLOGIES``); the target is the requested version (which must parse) or the
    newest one seen. No label below the cut: ("", requested).
    """
    below = {(o, v) for o, v, p, first in seen if first < cut.get(p, 0)}
    ids = sorted({o for o, _ in below})
    if len(ids) > 1:
        raise FailedPrecondition(
            f"project {project_id} has labels of several ontologies {ids} below the cut",
            reason="MIXED_ONTOLOGIES",
        )
    if not ids:
        return "", requested
    if requested:
        try:
            parse_version(requested)
        except ValueError as exc:
            raise InvalidArgument(
                "ontology_version is not a version",
                [FieldViolation("ontology_version", str(exc))],
            ) from exc
        return ids[0], requested
    return ids[0], max((v for _, v in below), key=_version_key)


def _version_key(v: str) -> tuple[int, int, int]:
    try:
        return parse_version(v)
    except ValueError:
        return (-1, -1, -1)


# --------------------------------------------------------------------------------- record


def version_record(
    req: pb.CreateDatasetVersionRequest,
    *,
    number: int,
    project_id: str,
    topic: str,
    cut: Mapping[int, int],
    row_filter: RowFilter,
    ontology: tuple[str, str],
    created_by: str,
    digest: str,
    manifest_uri: str,
    manifest: Mapping[str, object],
    reused: int,
    now: datetime,
) -> pb.DatasetVersion:
    """The record of a version just materialized (``manifest``: its parsed manifest)."""
    files: list[dict[str, int]] = manifest["files"]  # type: ignore[assignment]
    counts: dict[str, int] = manifest["counts"]  # type: ignore[assignment]
    record = pb.DatasetVersion(
        name=version_name(req.dataset_id, number),
        dataset_id=req.dataset_id,
        version=number,
        project_id=project_id,
        cut=[
            pb.PartitionOffset(topic=topic, partition=p, offset=o) for p, o in sorted(cut.items())
        ],
        filter=filter_proto(row_filter),
        ontology_id=ontology[0],
        ontology_version=ontology[1],
        manifest_sha256=digest,
        manifest_uri=manifest_uri,
        rows=manifest["row_count"],  # type: ignore[arg-type]
        labels=counts["labels"],
        files=len(files),
        bytes=sum(f["bytes"] for f in files),
        created_by=created_by,
        state=pb.VERSION_STATE_READY,
        description=req.description,
        files_reused=reused,
        content_sha256=manifest["content_sha256"],  # type: ignore[arg-type]
    )
    record.create_time.FromDatetime(now)
    return record

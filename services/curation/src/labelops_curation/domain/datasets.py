"""Datasets: what CreateDataset accepts, and which vector space a command works in (pure)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)

from .items import CUSTOM_SPACE, VECTOR_SPACE_RE, DatasetPolicy

#: Near-duplicate threshold of a dataset created without one.
DEFAULT_THRESHOLD: Final = 0.95
MAX_DISPLAY_NAME_CHARS: Final = 200
MAX_DESCRIPTION_CHARS: Final = 10_000
MAX_CUSTOM_VECTOR_DIM: Final = 8192


def dataset_created(
    req: pb.CreateDatasetRequest, offered: Collection[str]
) -> events_pb2.DatasetCreated:
    """The event CreateDataset decides, or INVALID_ARGUMENT naming every bad field.

    ``offered``: names of the embedders this deployment offers.
    """
    bad: list[FieldViolation] = []
    if len(req.display_name) > MAX_DISPLAY_NAME_CHARS:
        bad.append(FieldViolation("display_name", "at most 200 characters"))
    if len(req.description) > MAX_DESCRIPTION_CHARS:
        bad.append(FieldViolation("description", "at most 10000 characters"))
    for i, name in enumerate(req.embedders):
        if name not in offered:
            bad.append(
                FieldViolation(
                    f"embedders[{i}]",
                    f"unknown embedder {name!r}; this deployment offers {sorted(offered)}",
                )
            )
        elif name in req.embedders[:i]:
            bad.append(FieldViolation(f"embedders[{i}]", f"{name!r} is listed twice"))
    if not 0 <= req.custom_vector_dim <= MAX_CUSTOM_VECTOR_DIM:
        bad.append(FieldViolation("custom_vector_dim", "must be 0..8192"))
    threshold = req.near_duplicate_threshold or DEFAULT_THRESHOLD
    if not 0 < threshold <= 1:
        bad.append(FieldViolation("near_duplicate_threshold", "must be in (0, 1]"))
    if bad:
        raise InvalidArgument("dataset has invalid fields", bad)
    return events_pb2.DatasetCreated(
        dataset_id=req.dataset_id,
        display_name=req.display_name,
        description=req.description,
        embedders=req.embedders,
        custom_vector_dim=req.custom_vector_dim,
        auto_include=req.auto_include,
        near_duplicate_threshold=threshold,
    )


def dataset_from_event(e: events_pb2.DatasetCreated, at: datetime) -> pb.Dataset:
    """The dataset as CreateDataset answers it (no items yet)."""
    d = pb.Dataset(
        name=f"datasets/{e.dataset_id}",
        dataset_id=e.dataset_id,
        display_name=e.display_name,
        description=e.description,
        embedders=e.embedders,
        custom_vector_dim=e.custom_vector_dim,
        auto_include=e.auto_include,
        near_duplicate_threshold=e.near_duplicate_threshold,
        counts=pb.ItemCounts(),
    )
    d.create_time.FromDatetime(at)
    return d


def dataset_exists(dataset_id: str) -> AlreadyExists:
    return AlreadyExists(
        f"dataset {dataset_id} exists",
        reason="DATASET_EXISTS",
        metadata={"dataset_id": dataset_id},
    )


def dataset_not_found(dataset_id: str) -> NotFound:
    return NotFound(
        f"dataset {dataset_id} does not exist",
        reason="DATASET_NOT_FOUND",
        metadata={"dataset_id": dataset_id},
    )


def no_vectors(dataset_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"dataset {dataset_id} has no vectors yet: register items with content an embedder"
        " can read, or with caller-supplied vectors",
        reason="NO_VECTORS",
        metadata={"dataset_id": dataset_id},
    )


def choose_space(
    policy: DatasetPolicy,
    spaces: Collection[str],
    requested: str,
    field_name: str = "vector_space",
) -> str:
    """The vector space a command or search works in.

    ``spaces``: the spaces the dataset has vectors in. A ``requested`` space must be one of
    them, one of the dataset's embedders or ``custom`` (INVALID_ARGUMENT otherwise); without
    one, the first of the dataset's embedders (then ``custom``) that has vectors, else
    FAILED_PRECONDITION ``NO_VECTORS``.
    """
    if requested:
        if not VECTOR_SPACE_RE.match(requested) or (
            requested not in spaces
            and requested not in policy.embedders
            and requested != CUSTOM_SPACE
        ):
            raise InvalidArgument(
                f"dataset {policy.dataset_id} has no vector space {requested!r}",
                [
                    FieldViolation(
                        field_name, f"use one of {sorted(set(spaces) | set(policy.embedders))}"
                    )
                ],
            )
        return requested
    for name in (*policy.embedders, CUSTOM_SPACE):
        if name in spaces:
            return name
    raise no_vectors(policy.dataset_id)

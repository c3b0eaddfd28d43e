"""What the issue-17 checks cost on the label path, in process, against decoding the request.

A vendor's ``SubmitLabelsRequest`` of B submissions, each a box with a nested answer, an
attribute and a relation to a second label (the shape a rich ontology produces), is:

- baseline: decoded from its bytes (``ParseFromString``), what grpc does for every request
  anyway;
- checked by the generic request validator (``RequestValidator.validate``: control characters,
  string / bytes / repeated caps, Struct depth, ranges, unknown enums) — every request, before
  any handler;
- authorized (``authz.require`` of ``task.work`` for a vendor principal) and audited (an
  ``AuditRecord`` into ``AuditLog.record``'s buffer) — once per call.

Each figure is the best of 5 runs, reported as a ratio to the decode of the same bytes.

    python bench/run.py security         # B = 1000 and 100
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from labelops.labels.v1 import label_pb2 as L
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_core.audit import AuditRecord
from labelops_core.authz import Action, require
from labelops_core.context import Principal
from labelops_grpckit import RequestValidator


def _request(n: int) -> wpb.SubmitLabelsRequest:
    req = wpb.SubmitLabelsRequest(request_id="bench-1")
    for i in range(n):
        car = L.Label(
            label_id=f"car-{i}",
            class_id="car",
            box=L.BoundingBox(x=10, y=20, width=100, height=50),
            answers=[
                L.Answer(classification_id="occluded", option_id="yes"),
                L.Answer(classification_id="where", option_id="front"),
            ],
        )
        car.attributes["color"].string_value = "red"
        wheel = L.Label(
            label_id=f"wheel-{i}",
            class_id="wheel",
            box=L.BoundingBox(x=15, y=50, width=20, height=20),
        )
        req.submissions.append(
            wpb.LabelSubmission(
                assignment_id=f"00000000-0000-7000-8000-{i:012d}",
                labels=L.ItemLabels(
                    item_id=f"item-{i}",
                    item=L.ItemContext(width=640, height=480),
                    labels=[car, wheel],
                    relations=[
                        L.Relation(
                            relationship_id="part-of",
                            from_label_id=wheel.label_id,
                            to_label_id=car.label_id,
                        )
                    ],
                ),
            )
        )
    return req


def _best(fn: Callable[[], Any], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _one(n: int) -> dict[str, Any]:
    raw = _request(n).SerializeToString()
    decoded = wpb.SubmitLabelsRequest.FromString(raw)
    validator = RequestValidator()
    vendor = Principal(subject="vx-bot", tenant_id="acme", kind="vendor", vendor_id="vx")
    buffer: list[AuditRecord] = []

    def admit() -> None:
        require(Action.TASK_WORK, principal=vendor)
        buffer.append(
            AuditRecord(
                tenant_id=vendor.tenant_id,
                actor_kind=vendor.kind,
                actor_id=vendor.subject,
                service="routing",
                method="/labelops.routing.v1.WorkforceService/SubmitLabels",
                action=Action.TASK_WORK.value,
                outcome="ok",
                code="OK",
            )
        )

    decode_s = _best(lambda: wpb.SubmitLabelsRequest.FromString(raw))
    validate_s = _best(lambda: validator.validate(decoded))
    admit_s = _best(admit)
    return {
        "submissions": n,
        "request_bytes": len(raw),
        "decode_ms": round(decode_s * 1e3, 3),
        "validate_ms": round(validate_s * 1e3, 3),
        "authorize_and_audit_ms": round(admit_s * 1e3, 4),
        "ratio_validate_to_decode": round(validate_s / decode_s, 2),
        "ratio_authorize_and_audit_to_decode": round(admit_s / decode_s, 4),
    }


async def bench_security(_kafka: str, _pg: str, *, quick: bool = False) -> dict[str, Any]:
    return {f"batch{n}": _one(n) for n in ((100,) if quick else (1000, 100))}

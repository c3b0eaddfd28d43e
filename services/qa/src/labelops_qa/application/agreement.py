"""``MeasureAgreement``: agreement over the project's stored labels, reported to the caller
and recorded (``AgreementMeasured``) on the project's quality stream."""

from __future__ import annotations

from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import NotFound
from labelops_eventstore import EventStore

from ..adapters.read_models import ReadModels
from ..domain import agreement_report as report
from ..domain.model import quality_stream
from .origin import Origin


class AgreementMeasures:
    def __init__(self, store: EventStore, rm: ReadModels) -> None:
        self.store = store
        self.rm = rm

    async def measure_agreement(
        self, req: pb.MeasureAgreementRequest
    ) -> pb.MeasureAgreementResponse:
        origin = Origin.request()
        report.check_window(req)
        level = report.level_of(req)
        ratings = await self.rm.labels.ratings(self.store.pool, origin.tenant_id, req.project_id)
        if not ratings and (
            await self.rm.projects.get(self.store.pool, origin.tenant_id, req.project_id) is None
        ):
            # Another tenant's project reads as missing (no labels of this tenant either).
            raise NotFound(f"project {req.project_id} not found", reason="PROJECT_NOT_FOUND")
        reports = report.reports(req, report.measured(req, ratings, level), level)
        await self.store.append(
            quality_stream(req.project_id),
            None,
            [origin.event(ev.AgreementMeasured(report=r)) for r in reports],
        )
        return pb.MeasureAgreementResponse(reports=reports)

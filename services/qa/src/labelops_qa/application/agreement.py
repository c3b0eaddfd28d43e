"""``MeasureAgreement``: agreement over the project's stored labels, reported to the caller
and recorded (``AgreementMeasured``) on the project's quality stream."""

from __future__ import annotations

from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_eventstore import EventStore, NewEvent

from ..adapters.read_models import ReadModels
from ..domain import agreement_report as report
from ..domain.model import quality_stream


class AgreementMeasures:
    def __init__(self, store: EventStore, rm: ReadModels) -> None:
        self.store = store
        self.rm = rm

    async def measure_agreement(
        self, req: pb.MeasureAgreementRequest
    ) -> pb.MeasureAgreementResponse:
        report.check_window(req)
        level = report.level_of(req)
        ratings = await self.rm.labels.ratings(self.store.pool, req.project_id)
        reports = report.reports(req, report.measured(req, ratings, level), level)
        await self.store.append(
            quality_stream(req.project_id),
            None,
            [NewEvent.of(ev.AgreementMeasured(report=r)) for r in reports],
        )
        return pb.MeasureAgreementResponse(reports=reports)

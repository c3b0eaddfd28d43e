"""``labelops.qa.v1.QualityService``: protos in, application calls out, protos back."""

from __future__ import annotations

from labelops.qa.v1 import qa_pb2 as pb
from labelops.qa.v1 import qa_pb2_grpc

from ..application.service import QaService

QUALITY_SERVICE = pb.DESCRIPTOR.services_by_name["QualityService"].full_name


class QualityServicer(qa_pb2_grpc.QualityServiceServicer):
    def __init__(self, qa: QaService) -> None:
        self.qa = qa

    async def GetTaskQuality(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.get_task(request)

    async def RunConsensus(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.run_consensus(request)

    async def ListConsensus(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.list_consensus(request)

    async def MeasureAgreement(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.measure_agreement(request)

    async def GetAnnotatorQuality(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.annotator_quality(request)

    async def ListReviewQueue(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.review_queue(request)

    async def SubmitReview(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.submit_review(request)

    async def FindLabelIssues(self, request, context):  # type: ignore[no-untyped-def]
        return await self.qa.find_issues(request)

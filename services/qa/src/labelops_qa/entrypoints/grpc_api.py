"""``labelops.qa.v1.QualityService``: protos in, application calls out, protos back (the
request messages are the commands and queries the application takes)."""

from __future__ import annotations

from labelops.qa.v1 import qa_pb2_grpc

from ..application.agreement import AgreementMeasures
from ..application.issues import LabelIssues
from ..application.queries import QaQueries
from ..application.reviews import Reviews
from ..application.runs import ConsensusRuns


class QualityServicer(qa_pb2_grpc.QualityServiceServicer):
    def __init__(
        self,
        queries: QaQueries,
        reviews: Reviews,
        runs: ConsensusRuns,
        agreement: AgreementMeasures,
        issues: LabelIssues,
    ) -> None:
        self.queries = queries
        self.reviews = reviews
        self.runs = runs
        self.agreement = agreement
        self.issues = issues

    async def GetTaskQuality(self, request, context):  # type: ignore[no-untyped-def]
        return await self.queries.get_task(request)

    async def RunConsensus(self, request, context):  # type: ignore[no-untyped-def]
        return await self.runs.run_consensus(request)

    async def ListConsensus(self, request, context):  # type: ignore[no-untyped-def]
        return await self.queries.list_consensus(request)

    async def MeasureAgreement(self, request, context):  # type: ignore[no-untyped-def]
        return await self.agreement.measure_agreement(request)

    async def GetAnnotatorQuality(self, request, context):  # type: ignore[no-untyped-def]
        return await self.queries.annotator_quality(request)

    async def ListReviewQueue(self, request, context):  # type: ignore[no-untyped-def]
        return await self.queries.review_queue(request)

    async def SubmitReview(self, request, context):  # type: ignore[no-untyped-def]
        return await self.reviews.submit_review(request)

    async def FindLabelIssues(self, request, context):  # type: ignore[no-untyped-def]
        return await self.issues.find_issues(request)

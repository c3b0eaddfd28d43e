"""Who may call which QualityService method: full method name -> the ``Action`` it needs.

The server kit's interceptor ``require``s it before the handler runs (a method missing here is
refused); the roles holding each action are ``labelops_core.authz.ROLE_ACTIONS``
(docs/security.md prints both). Resource rules stay in the application: every read and write
is of the caller's tenant, and gold-derived figures (the confusion of answers against gold
answers) need ``gold.read``.
"""

from __future__ import annotations

from labelops.qa.v1 import qa_pb2
from labelops_core.authz import Action

_SERVICE = qa_pb2.DESCRIPTOR.services_by_name["QualityService"].full_name

_ACTIONS: dict[str, Action] = {
    "GetTaskQuality": Action.QUALITY_READ,
    "ListConsensus": Action.QUALITY_READ,
    "GetAnnotatorQuality": Action.QUALITY_READ,
    "ListReviewQueue": Action.QUALITY_READ,
    # Records AgreementMeasured on the project's quality stream, but changes no label or
    # task: a measurement, as a reviewer may take one.
    "MeasureAgreement": Action.QUALITY_READ,
    # A new result set of every labeled task (ConsensusReached per task).
    "RunConsensus": Action.QUALITY_RUN,
    # Rejects every flagged task (LabelIssueFlagged: routing re-opens it): a command that
    # changes labels' fate, so quality.run (audited), not quality.read.
    "FindLabelIssues": Action.QUALITY_RUN,
    "SubmitReview": Action.REVIEW_WRITE,
}

#: ``/labelops.qa.v1.QualityService/<Method>`` -> the action the caller needs.
METHOD_ACTIONS: dict[str, Action] = {f"/{_SERVICE}/{m}": a for m, a in _ACTIONS.items()}

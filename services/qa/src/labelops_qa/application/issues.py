"""``FindLabelIssues``: a model's out-of-sample probabilities against the accepted labels; each
flagged task is rejected (``LabelIssueFlagged`` on its stream: routing re-opens it)."""

from __future__ import annotations

import uuid

from labelops.qa.v1 import qa_pb2 as pb
from labelops_eventstore import EventStore
from labelops_eventstore.store import StreamAppend

from ..adapters.read_models import ReadModels
from ..domain import issues
from ..domain.model import LIVE, task_stream
from .origin import Origin


class LabelIssues:
    def __init__(self, store: EventStore, rm: ReadModels) -> None:
        self.store = store
        self.rm = rm

    async def find_issues(self, req: pb.FindLabelIssuesRequest) -> pb.FindLabelIssuesResponse:
        # quality.run is the method's action (entrypoints/access.py); only the caller's
        # tenant's tasks are judged (another tenant's task ids are simply not accepted here).
        origin = Origin.request()
        tenant = origin.tenant_id
        ids = issues.task_ids(req)
        # Judged: the accepted label (a reviewer's fix when there was one), not the consensus
        # it may have replaced.
        accepted = await self.rm.consensus.accepted(
            self.store.pool, tenant, req.project_id, LIVE, ids
        )
        resp = issues.label_issues(req, ids, accepted)
        if not resp.issues:
            return resp
        async with self.store.transaction() as conn:
            appends = []
            for issue in sorted(resp.issues, key=lambda i: i.task_id):
                # The task row's stream_version is what every later append to the task's
                # stream expects: an append here must move it too (or the next label of the
                # re-opened task would conflict and be dead-lettered).
                version = await self.rm.tasks.reject_for_issue(
                    conn, tenant, uuid.UUID(issue.task_id), issues.rejection_reason(issue)
                )
                appends.append(
                    StreamAppend(
                        task_stream(req.project_id, issue.task_id),
                        version,
                        [origin.event(issues.flagged(req, issue))],
                    )
                )
            await self.store.append_streams(appends, conn=conn)
        return resp

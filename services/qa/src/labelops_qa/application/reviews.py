"""``SubmitReview``: a reviewer accepts, fixes and accepts, or rejects a task in review."""

from __future__ import annotations

from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.context import current_principal
from labelops_eventstore import EventStore
from labelops_ontologykit import OntologyVersions

from ..adapters.read_models import ReadModels
from ..domain import review
from ..domain.model import LIVE, task_quality, task_stream, task_uuid
from .origin import Origin


class Reviews:
    def __init__(self, store: EventStore, rm: ReadModels, ontologies: OntologyVersions) -> None:
        self.store = store
        self.rm = rm
        #: Published versions (fed by the ontology consumer), to validate reviewers' fixes.
        self.ontologies = ontologies

    async def submit_review(self, req: pb.SubmitReviewRequest) -> pb.SubmitReviewResponse:
        """The request is the command. A fix must be valid against the project's ontology
        version; the outcome is appended to the task's stream with the answer (request id)."""
        # review.write is the method's action (entrypoints/access.py); here: whose task.
        origin = Origin.request()
        tenant = origin.tenant_id
        reviewer = current_principal()
        decision = review.decision_of(req)
        tid = task_uuid(req.task_id)
        cmd = await self.store.command("SubmitReview", req, pb.SubmitReviewResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        async with self.store.transaction() as conn:
            # Another tenant's task is not found (the lock is of this tenant's rows).
            task = review.check_in_review(
                await self.rm.tasks.lock(conn, tenant, tid, req.project_id), req.task_id
            )
            project = await self.rm.projects.get(conn, tenant, req.project_id)
            subs = await self.rm.labels.of_task(conn, tenant, tid)
            review.check_not_own(reviewer.subject if reviewer else "", subs)
            live = await self.rm.consensus.latest(conn, tenant, LIVE, tid)
            fixed = None
            if decision == "accept":
                fixed = review.accepted_candidate(req, live, subs)
            if decision == "fix_and_accept":
                fixed = review.fixed_labels(req, task)
                if project is not None:
                    # The tenant's own version: another tenant's "animals" 1.0.0 is not it.
                    ontology = await self.ontologies.get(
                        project.ontology_id, project.ontology_version, tenant=tenant
                    )
                    review.check_fix(ontology, fixed)
            outcome = review.reviewed(
                project,
                task,
                live,
                subs,
                req,
                decision,
                reviewer.subject if reviewer else "",
                fixed,
            )
            version = await self.rm.tasks.reviewed(
                conn, tenant, outcome.task, outcome.accepted_labels
            )
            resp = pb.SubmitReviewResponse(task=task_quality(outcome.task, live, subs))
            await self.store.append(
                task_stream(req.project_id, tid),
                version,
                [origin.event(outcome.event)],
                conn=conn,
                **cmd.recording(resp),
            )
        return resp

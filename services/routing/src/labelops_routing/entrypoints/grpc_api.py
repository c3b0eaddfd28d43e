"""``RoutingService`` and ``WorkforceService``: protos in, commands / queries out, protos back.

Unary errors become status codes with ErrorInfo / BadRequest details (libs/grpckit). On the
``Work`` stream an error answers the one message that caused it (``StreamError`` with the same
correlation id) and the stream stays open: one bad batch must not drop a vendor's connection
and its other in-flight work.

Each ``Work`` message costs its caller one token of the server's per-principal rate limiter
(libs/grpckit; the stream's opening costs one too): an empty bucket answers that message
``RESOURCE_EXHAUSTED RATE_LIMITED`` (the message says when to retry), the stream stays open.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from grpc import aio
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_core.context import current_principal
from labelops_core.errors import DomainError, InvalidArgument
from labelops_grpckit import RejectedMessage, per_message_errors
from labelops_grpckit.ratelimit import RateLimiter
from opentelemetry import trace

from ..application.claims import Claims
from ..application.leases import Leases
from ..application.projects import ProjectCommands
from ..application.queries import RoutingQueries
from ..application.submissions import Submissions
from ..application.tasks import TaskCommands
from ..application.workforce import WorkforceCommands

log = logging.getLogger(__name__)
_INDEX = re.compile(r"^submissions\[(\d+)\]")


class RoutingServicer(routing_pb2_grpc.RoutingServiceServicer):
    def __init__(
        self,
        projects: ProjectCommands,
        workforce: WorkforceCommands,
        tasks: TaskCommands,
        queries: RoutingQueries,
    ) -> None:
        self.projects = projects
        self.workforce = workforce
        self.tasks = tasks
        self.q = queries

    async def CreateProject(self, request, context):  # type: ignore[no-untyped-def]
        return await self.projects.create_project(request)

    async def GetProject(self, request, context):  # type: ignore[no-untyped-def]
        return await self.q.get_project(request.project_id)

    async def ListProjects(self, request, context):  # type: ignore[no-untyped-def]
        return await self.q.list_projects(request)

    async def UpdateProjectConfig(self, request, context):  # type: ignore[no-untyped-def]
        return await self.projects.update_project_config(request)

    async def SetRoutingRules(self, request, context):  # type: ignore[no-untyped-def]
        return await self.projects.set_routing_rules(request)

    async def CreatePool(self, request, context):  # type: ignore[no-untyped-def]
        return await self.workforce.create_pool(request)

    async def UpdatePool(self, request, context):  # type: ignore[no-untyped-def]
        return await self.workforce.update_pool(request)

    async def ListPools(self, request, context):  # type: ignore[no-untyped-def]
        return await self.q.list_pools()

    async def RegisterAnnotator(self, request, context):  # type: ignore[no-untyped-def]
        return await self.workforce.register_annotator(request)

    async def ListAnnotators(self, request, context):  # type: ignore[no-untyped-def]
        return await self.q.list_annotators(request.pool_id)

    async def CreateTasks(self, request, context):  # type: ignore[no-untyped-def]
        return await self.tasks.create_tasks(request)

    async def AddGoldTasks(self, request, context):  # type: ignore[no-untyped-def]
        return await self.tasks.add_gold_tasks(request)

    async def UpdateTaskSignals(self, request, context):  # type: ignore[no-untyped-def]
        return await self.tasks.update_task_signals(request)

    async def GetTask(self, request, context):  # type: ignore[no-untyped-def]
        return await self.q.get_task(request.project_id, request.task_id)

    async def ListTasks(self, request, context):  # type: ignore[no-untyped-def]
        return await self.q.list_tasks(request)

    async def GetQueueStats(self, request, context):  # type: ignore[no-untyped-def]
        return await self.q.queue_stats(request.project_id)


def _rejected(msg: RejectedMessage) -> wpb.WorkResponse:
    """The answer to a message the validator refused: its error and field violations, under
    its correlation id when that id itself is not what was refused."""
    out = wpb.WorkResponse()
    bad_id = any(v.field.startswith("correlation_id") for v in msg.error.violations)
    if msg.message is not None and not bad_id:
        out.correlation_id = getattr(msg.message, "correlation_id", "")
    out.error.CopyFrom(stream_error(msg.error))
    return out


def stream_error(exc: DomainError) -> wpb.StreamError:
    err = wpb.StreamError(code=exc.code.value, reason=exc.reason, message=exc.message)
    if isinstance(exc, InvalidArgument):
        for v in exc.violations:
            m = _INDEX.match(v.field)
            err.violations.append(
                wpb.SubmissionViolation(
                    submission_index=int(m.group(1)) if m else -1,
                    field=v.field,
                    description=v.description,
                    reason=v.description.split(":", 1)[0] if ":" in v.description else "",
                )
            )
    elif "submission_index" in exc.metadata:
        err.violations.append(
            wpb.SubmissionViolation(
                submission_index=int(exc.metadata["submission_index"]),
                field=f"submissions[{exc.metadata['submission_index']}].assignment_id",
                description=exc.message,
                reason=exc.reason,
            )
        )
    return err


@dataclass
class MessageLimit:
    """The limiter each ``Work`` message is charged to (the server's, set once it exists;
    None: no rate limit)."""

    limiter: RateLimiter | None = None

    def charge(self) -> None:
        """One token of the caller's bucket, or ``RateLimited`` (RESOURCE_EXHAUSTED)."""
        if self.limiter is not None and (p := current_principal()) is not None:
            self.limiter.check(p)


class WorkforceServicer(workforce_pb2_grpc.WorkforceServiceServicer):
    def __init__(
        self,
        claims: Claims,
        leases: Leases,
        submissions: Submissions,
        limit: MessageLimit | None = None,
    ) -> None:
        self.claims = claims
        self.leases = leases
        self.submissions = submissions
        self.limit = limit if limit is not None else MessageLimit()

    async def ClaimTasks(self, request, context):  # type: ignore[no-untyped-def]
        return await self.claims.claim(request)

    async def SubmitLabels(self, request, context):  # type: ignore[no-untyped-def]
        return await self.submissions.submit(request)

    async def Heartbeat(self, request, context):  # type: ignore[no-untyped-def]
        return await self.leases.heartbeat(request)

    async def SkipTask(self, request, context):  # type: ignore[no-untyped-def]
        return await self.leases.skip(request)

    @per_message_errors
    async def Work(
        self,
        request_iterator: AsyncIterator[wpb.WorkRequest | RejectedMessage],
        context: aio.ServicerContext,
    ) -> AsyncIterator[wpb.WorkResponse]:
        tracer = trace.get_tracer("labelops.routing")
        async for msg in request_iterator:
            if isinstance(msg, RejectedMessage):
                # Refused by the validator (undecodable, NUL, over a cap): answered here, never
                # acted on; the stream goes on with the next message.
                yield _rejected(msg)
                continue
            kind = msg.WhichOneof("kind")
            out = wpb.WorkResponse(correlation_id=msg.correlation_id)
            with tracer.start_as_current_span(f"Work.{kind or 'empty'}"):
                try:
                    self.limit.charge()
                    if kind == "claim":
                        out.offers.CopyFrom(await self.claims.claim(msg.claim))
                    elif kind == "heartbeat":
                        out.heartbeat.CopyFrom(await self.leases.heartbeat(msg.heartbeat))
                    elif kind == "submit":
                        out.submitted.CopyFrom(await self.submissions.submit(msg.submit))
                    elif kind == "skip":
                        out.skipped.CopyFrom(await self.leases.skip(msg.skip))
                    else:
                        out.error.CopyFrom(
                            wpb.StreamError(
                                code="INVALID_ARGUMENT",
                                reason="EMPTY_MESSAGE",
                                message="a WorkRequest needs one of claim, heartbeat, submit, skip",
                            )
                        )
                except DomainError as exc:
                    out.error.CopyFrom(stream_error(exc))
                except Exception:
                    span = trace.get_current_span().get_span_context()
                    log.exception("Work stream message failed (%s)", kind)
                    out.error.CopyFrom(
                        wpb.StreamError(
                            code="INTERNAL",
                            reason="INTERNAL",
                            message=f"internal error (trace_id={span.trace_id:032x})",
                        )
                    )
            yield out

"""Simulated workforces: an in-house team on the unary WorkforceService calls, two vendors on
the bidirectional ``Work`` stream (one stream per vendor, its workers multiplexed on it, with
the vendor's own API key), and a reviewer bot on QA's review queue.

Every person is a seeded random process, so a run is reproducible: an annotator gives the true
class with their accuracy, otherwise a mistake — for a biased annotator mostly the classic
confusion of that digit (3→8, 9→4, 7→1 ...). Shown a pre-label, they keep it when it is what
they would have said (``ACCEPTED``, and fast: confirming takes a third of the time), and
otherwise replace it (``REPLACED``, a little slower than from scratch); a careless annotator
sometimes keeps a wrong pre-label. Vendor B drifts: from the second half of the run on, its
accuracy falls and its confusion bias takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import qa_pb2, qa_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops.routing.v1 import workforce_pb2_grpc

from .data import CLASSES

#: What a hurried annotator says instead of the true digit (both directions where it is
#: symmetric in handwriting).
CONFUSIONS: dict[str, str] = {
    "digit-3": "digit-8",
    "digit-8": "digit-3",
    "digit-9": "digit-4",
    "digit-4": "digit-9",
    "digit-7": "digit-1",
    "digit-1": "digit-7",
    "digit-5": "digit-6",
    "digit-6": "digit-5",
    "digit-0": "digit-6",
    "digit-2": "digit-7",
}


@dataclass(frozen=True)
class Profile:
    """How a kind of annotator works.

    Attributes:
        accuracy: chance of giving the true class.
        seconds: median seconds to label an item from scratch.
        bias: share of mistakes that are the digit's classic confusion (the rest: any class).
        drift_accuracy / drift_bias: accuracy and bias once the annotator drifts.
        keeps_wrong_prelabel: chance of keeping a wrong pre-label (automation bias).
    """

    accuracy: float
    seconds: float
    bias: float = 0.5
    drift_accuracy: float | None = None
    drift_bias: float | None = None
    keeps_wrong_prelabel: float = 0.0


IN_HOUSE = Profile(accuracy=0.97, seconds=9.0, bias=0.5)
VENDOR_A = Profile(accuracy=0.9, seconds=6.0, bias=0.5, keeps_wrong_prelabel=0.1)
VENDOR_B = Profile(
    accuracy=0.85,
    seconds=4.5,
    bias=0.7,
    drift_accuracy=0.4,
    drift_bias=0.95,
    keeps_wrong_prelabel=0.35,
)


@dataclass(frozen=True)
class Answer:
    """What an annotator submits for one offer."""

    class_id: str
    outcome: int  # workforce_pb2.PrelabelOutcome
    time_spent_ms: int


@dataclass
class SimAnnotator:
    annotator_id: str
    name: str
    team: str  # "in-house" | "vendor-a" | "vendor-b"
    profile: Profile
    seed: int = 7
    drifting: bool = False

    def answer(self, task_id: str, truth: str, prelabel: str | None) -> Answer:
        """The annotator's label for a task whose true class is ``truth``; ``prelabel`` is the
        class the offer's pre-label shows (None without one)."""
        rng = random.Random(f"{self.seed}:{self.annotator_id}:{task_id}")
        p = self.profile
        accuracy = (
            p.drift_accuracy if self.drifting and p.drift_accuracy is not None else p.accuracy
        )
        bias = p.drift_bias if self.drifting and p.drift_bias is not None else p.bias
        own = truth if rng.random() < accuracy else self._mistake(truth, bias, rng)
        # Log-normal spread around the median, as task times are.
        jitter = math.exp(rng.gauss(0.0, 0.25))
        if prelabel is None:
            return Answer(own, wpb.PRELABEL_OUTCOME_NONE, int(p.seconds * jitter * 1000))
        if own != prelabel:
            # Anchoring works both ways: a correct pre-label talks people out of a mistake
            # they would have made, a wrong one is kept by the careless.
            if prelabel == truth and rng.random() < 0.6:
                own = prelabel
            elif prelabel != truth and rng.random() < p.keeps_wrong_prelabel:
                own = prelabel
        if own == prelabel:
            return Answer(own, wpb.PRELABEL_OUTCOME_ACCEPTED, int(p.seconds * 0.35 * jitter * 1000))
        return Answer(own, wpb.PRELABEL_OUTCOME_REPLACED, int(p.seconds * 1.15 * jitter * 1000))

    @staticmethod
    def _mistake(truth: str, bias: float, rng: random.Random) -> str:
        if truth in CONFUSIONS and rng.random() < bias:
            return CONFUSIONS[truth]
        return rng.choice([c for c in CLASSES if c != truth])


def whole_item(item_id: str, class_id: str, label_id: str = "class") -> L.ItemLabels:
    """A whole-item classification of ``item_id``."""
    return L.ItemLabels(
        item_id=item_id,
        labels=[L.Label(label_id=label_id, class_id=class_id, whole_item=L.WholeItem())],
    )


def prelabel_class(offer: wpb.TaskOffer) -> str | None:
    """The class the offer's pre-label shows (the most confident whole-item one)."""
    shown = [p for p in offer.prelabels if p.class_id]
    if not shown:
        return None
    return max(shown, key=lambda p: p.confidence).class_id


@dataclass
class Work:
    """One label as the demo's ledger keeps it (for truth comparisons in the report)."""

    annotator_id: str
    team: str
    task_id: str
    item_id: str
    truth: str
    given: str
    prelabel: str | None
    outcome: int
    time_spent_ms: int


@dataclass
class RoundResult:
    offers: int = 0
    labels: int = 0
    ledger: list[Work] = field(default_factory=list)


def _label(
    a: SimAnnotator, offers: Sequence[wpb.TaskOffer], truth: Mapping[str, str], out: RoundResult
) -> list[wpb.LabelSubmission]:
    subs = []
    for o in offers:
        shown = prelabel_class(o)
        ans = a.answer(o.task_id, truth[o.item_id], shown)
        subs.append(
            wpb.LabelSubmission(
                assignment_id=o.assignment_id,
                labels=whole_item(o.item_id, ans.class_id),
                time_spent_ms=ans.time_spent_ms,
                prelabel_outcome=ans.outcome,
            )
        )
        out.ledger.append(
            Work(
                a.annotator_id,
                a.team,
                o.task_id,
                o.item_id,
                truth[o.item_id],
                ans.class_id,
                shown,
                ans.outcome,
                ans.time_spent_ms,
            )
        )
    return subs


class InHouseTeam:
    """In-house annotators working through an internal tool: unary ClaimTasks / SubmitLabels
    with the team's (plain user) credentials."""

    def __init__(
        self,
        stub: workforce_pb2_grpc.WorkforceServiceStub,
        pool_id: str,
        people: list[SimAnnotator],
    ) -> None:
        self.stub = stub
        self.pool_id = pool_id
        self.people = people

    async def round(self, project_id: str, claim: int, truth: Mapping[str, str]) -> RoundResult:
        out = RoundResult()
        for a in self.people:
            resp = await self.stub.ClaimTasks(
                wpb.ClaimTasksRequest(
                    pool_id=self.pool_id,
                    annotator_id=a.annotator_id,
                    max_tasks=claim,
                    project_id=project_id,
                )
            )
            out.offers += len(resp.offers)
            if not resp.offers:
                continue
            subs = _label(a, resp.offers, truth, out)
            done = await self.stub.SubmitLabels(
                wpb.SubmitLabelsRequest(request_id=str(uuid.uuid4()), submissions=subs)
            )
            out.labels += len(done.accepted)
        return out


class WorkStreamError(Exception):
    """A ``Work`` stream message was answered with an error (the stream stays open)."""

    def __init__(self, error: wpb.StreamError) -> None:
        super().__init__(f"{error.code} {error.reason}: {error.message}")
        self.error = error


class WorkStream:
    """A vendor's client of ``WorkforceService.Work``: one long-lived bidirectional stream;
    each request carries a correlation id and the answer with the same id resolves it."""

    def __init__(self, stub: workforce_pb2_grpc.WorkforceServiceStub) -> None:
        self._stub = stub
        self._outbox: asyncio.Queue[wpb.WorkRequest | None] = asyncio.Queue()
        self._waiting: dict[str, asyncio.Future[wpb.WorkResponse]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._call: Any = None
        self.messages = 0

    async def _requests(self) -> AsyncIterator[wpb.WorkRequest]:
        while (msg := await self._outbox.get()) is not None:
            yield msg

    async def _read(self) -> None:
        try:
            async for resp in self._call:
                fut = self._waiting.pop(resp.correlation_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(resp)
        except Exception as exc:  # the stream broke: fail everyone waiting, not silently
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(exc)
            self._waiting.clear()
            raise

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[WorkStream]:
        self._call = self._stub.Work(self._requests())
        self._reader = asyncio.create_task(self._read())
        try:
            yield self
        finally:
            await self._outbox.put(None)  # half-close: the server ends the stream
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, timeout=10)
            if not self._reader.done():
                self._reader.cancel()

    async def request(self, **kind: Any) -> wpb.WorkResponse:
        cid = str(uuid.uuid4())
        fut: asyncio.Future[wpb.WorkResponse] = asyncio.get_running_loop().create_future()
        self._waiting[cid] = fut
        await self._outbox.put(wpb.WorkRequest(correlation_id=cid, **kind))
        self.messages += 1
        resp = await asyncio.wait_for(fut, timeout=60)
        if resp.WhichOneof("kind") == "error":
            raise WorkStreamError(resp.error)
        return resp

    async def claim(
        self, pool_id: str, annotator_id: str, max_tasks: int, project_id: str
    ) -> list[wpb.TaskOffer]:
        resp = await self.request(
            claim=wpb.ClaimTasksRequest(
                pool_id=pool_id,
                annotator_id=annotator_id,
                max_tasks=max_tasks,
                project_id=project_id,
            )
        )
        return list(resp.offers.offers)

    async def heartbeat(self, assignment_ids: Sequence[str]) -> list[wpb.LeaseStatus]:
        resp = await self.request(heartbeat=wpb.HeartbeatRequest(assignment_ids=assignment_ids))
        return list(resp.heartbeat.leases)

    async def submit(self, submissions: Sequence[wpb.LabelSubmission]) -> wpb.SubmitLabelsResponse:
        resp = await self.request(
            submit=wpb.SubmitLabelsRequest(request_id=str(uuid.uuid4()), submissions=submissions)
        )
        return resp.submitted


class VendorWorkforce:
    """A vendor's workforce system: its workers claim, heartbeat and submit over one ``Work``
    stream opened with the vendor's API key (kind ``vendor``)."""

    def __init__(self, stream: WorkStream, pool_id: str, people: list[SimAnnotator]) -> None:
        self.stream = stream
        self.pool_id = pool_id
        self.people = people
        self.heartbeats = 0

    async def round(self, project_id: str, claim: int, truth: Mapping[str, str]) -> RoundResult:
        out = RoundResult()
        for a in self.people:
            offers = await self.stream.claim(self.pool_id, a.annotator_id, claim, project_id)
            out.offers += len(offers)
            if not offers:
                continue
            # A real workforce keeps its leases alive while people work.
            leases = await self.stream.heartbeat([o.assignment_id for o in offers])
            self.heartbeats += 1
            alive = {s.assignment_id for s in leases if s.active}
            offers = [o for o in offers if o.assignment_id in alive]
            subs = _label(a, offers, truth, out)
            if subs:
                done = await self.stream.submit(subs)
                out.labels += len(done.accepted)
        return out


@dataclass
class ReviewStats:
    accepted: int = 0
    fixed: int = 0


class ReviewerBot:
    """A reviewer who knows the truth: accepts a correct consensus, fixes a wrong one."""

    def __init__(self, stub: qa_pb2_grpc.QualityServiceStub, truth: Mapping[str, str]) -> None:
        self.stub = stub
        self.truth = truth
        self.stats = ReviewStats()

    async def work_queue(self, project_id: str) -> int:
        """Review everything in the queue now; returns how many tasks were reviewed."""
        queue = await self.stub.ListReviewQueue(
            qa_pb2.ListReviewQueueRequest(project_id=project_id, page_size=1000)
        )
        for t in queue.tasks:
            given = next((lb.class_id for lb in t.consensus.labels.labels if lb.class_id), "")
            want = self.truth[t.item_id]
            if given == want:
                req = qa_pb2.SubmitReviewRequest(
                    project_id=project_id,
                    task_id=t.task_id,
                    decision=qa_pb2.REVIEW_DECISION_ACCEPT,
                    request_id=str(uuid.uuid4()),
                )
                self.stats.accepted += 1
            else:
                req = qa_pb2.SubmitReviewRequest(
                    project_id=project_id,
                    task_id=t.task_id,
                    decision=qa_pb2.REVIEW_DECISION_FIX_AND_ACCEPT,
                    fixed_labels=whole_item(t.item_id, want, "review"),
                    note=f"consensus said {given or 'nothing'}",
                    request_id=str(uuid.uuid4()),
                )
                self.stats.fixed += 1
            await self.stub.SubmitReview(req)
        return len(queue.tasks)

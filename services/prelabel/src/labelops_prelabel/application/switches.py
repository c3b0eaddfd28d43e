"""Pre-label ROI per class: the evidence each submitted label adds, the policy's switch,
GetClassRoi and an operator's SetPreLabeling.

Observations come from consumed ``LabelSubmitted`` events and are kept under the event's
tenant; a switch the policy makes is an event of that tenant, caused by that event's actor.
GetClassRoi / SetPreLabeling work in the caller's tenant."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.routing.v1 import events_pb2 as rev
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument
from labelops_eventstore import ANY_VERSION, NewEvent

from ..domain import switches
from ..domain.roi import ClassRoi, RoiPolicy
from .access import operator
from .repos import Repos

log = logging.getLogger(__name__)


class RoiSwitches:
    """Args:
    policy: when a class's pre-labels are switched off and on again.
    window: recent observations per side the statistics look at.
    eval_every: new observations of a class that trigger a re-evaluation.
    """

    def __init__(self, repos: Repos, policy: RoiPolicy, *, window: int, eval_every: int) -> None:
        self.r = repos
        self.policy = policy
        self.window = window
        self.eval_every = eval_every

    async def _stats(self, conn: Any, tenant_id: str, project_id: str, class_id: str) -> ClassRoi:
        observations = await self.r.observations.window(
            conn, tenant_id, project_id, class_id, self.window
        )
        return switches.roi_of(class_id, observations, self.policy)

    async def observe(
        self, conn: Any, origin: dict[str, str], e: rev.LabelSubmitted, at: datetime
    ) -> None:
        """One submitted label: an observation of its class, and every few a re-evaluation.
        ``origin``: the consumed event's tenant and actor (``tenant_id``, ``actor_kind``,
        ``actor_id``), what a switch it causes carries."""
        o = switches.observation_of(e)
        if o is None:
            return
        tenant = origin["tenant_id"]
        await self.r.observations.add(conn, tenant, e.project_id, o, at)
        since_eval, enabled = await self.r.switches.observed(conn, tenant, e.project_id, o.class_id)
        if switches.evaluation_due(since_eval, self.eval_every):
            await self._evaluate(conn, origin, e.project_id, o.class_id, enabled)

    async def _evaluate(
        self, conn: Any, origin: dict[str, str], project_id: str, class_id: str, enabled: bool
    ) -> None:
        tenant = origin["tenant_id"]
        stats = await self._stats(conn, tenant, project_id, class_id)
        d = switches.evaluation(project_id, stats, enabled, self.policy)
        await self.r.switches.evaluated(
            conn, tenant, project_id, class_id, d.enabled, d.reason if d.changed else None
        )
        if d.event is None:
            return
        log.info(
            "project %s class %s: pre-labeling %s: %s",
            project_id,
            class_id,
            "on" if d.enabled else "off",
            d.reason,
        )
        await self.r.store.append(
            switches.project_stream(project_id),
            ANY_VERSION,
            [NewEvent.of(d.event, **origin)],
            conn=conn,
        )

    async def get_class_roi(self, req: pb.GetClassRoiRequest) -> pb.GetClassRoiResponse:
        if not req.project_id:
            raise InvalidArgument(
                "project_id is required", [FieldViolation("project_id", "required")]
            )
        pool = self.r.pool
        tenant = current_tenant()
        resp = pb.GetClassRoiResponse()
        for s in await self.r.switches.of_project(pool, tenant, req.project_id):
            stats = await self._stats(pool, tenant, req.project_id, s.class_id)
            resp.classes.append(switches.class_view(stats, s.enabled, s.reason, self.policy))
        return resp

    async def set_prelabeling(self, req: pb.SetPreLabelingRequest) -> pb.SetPreLabelingResponse:
        who = operator()
        tenant = current_tenant()
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if not req.class_id:
            bad.append(FieldViolation("class_id", "required"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        cmd = await self.r.store.command("SetPreLabeling", req, pb.SetPreLabelingResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        async with self.r.store.transaction() as conn:
            reason = switches.operator_reason(req.reason, req.enabled, who)
            await self.r.switches.switch(
                conn, tenant, req.project_id, req.class_id, req.enabled, reason
            )
            stats = await self._stats(conn, tenant, req.project_id, req.class_id)
            evidence, event = switches.operator_switch(
                req.project_id, stats, req.enabled, reason, who
            )
            resp = pb.SetPreLabelingResponse(class_roi=evidence)
            await self.r.store.append(
                switches.project_stream(req.project_id),
                ANY_VERSION,
                [NewEvent.of(event)],
                conn=conn,
                **cmd.recording(resp),
            )
        return resp

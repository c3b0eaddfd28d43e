"""The model registry: RegisterModel (the project's new serving model), GetModel, ListModels,
each in the caller's tenant (another tenant's model is NOT_FOUND, its models are not listed).

An external model's URL passes the outbound guard at registration (INVALID_ARGUMENT on
``url``: loopback, link-local, private, metadata addresses unless allow-listed) and again
before every call (``ModelServers.predict``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.ids import new_id
from labelops_eventstore import NO_STREAM, NewEvent

from ..adapters.model_server import is_http_url
from ..domain import prelabels
from ..domain.model import Model, model_stream, registered
from .repos import Repos
from .training import Trainer


class ModelRegistry:
    def __init__(self, repos: Repos, trainer: Trainer, clock: Callable[[], datetime]) -> None:
        self.r = repos
        self.trainer = trainer
        self.clock = clock

    async def register_model(self, req: pb.RegisterModelRequest) -> pb.RegisterModelResponse:
        tenant = current_tenant()
        m = registered(req, new_id(), self.clock(), is_http_url, tenant)
        if m.external:
            await self.r.servers.check(m.url, field="url")
        cmd = await self.r.store.command("RegisterModel", req, pb.RegisterModelResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        async with self.r.store.transaction() as conn:
            model = (await self.r.models.add_serving(conn, m)).to_proto()
            resp = pb.RegisterModelResponse(model=model)
            await self.r.store.append(
                model_stream(m.model_id),
                NO_STREAM,
                [NewEvent.of(ev.ModelRegistered(model=model))],
                conn=conn,
                **cmd.recording(resp),
            )
            if not m.external:
                # Labels may be there already: the new model trains on them at once.
                await self.trainer.mark_due(conn, tenant, m.project_id)
        return resp

    async def _with_current(self, conn: object, m: Model) -> pb.Model:
        out = m.to_proto(await self.r.versions.current(conn, m))
        if not m.external:
            # What the built-in model cannot pre-label, from the project's accepted labels.
            geometries = await self.r.labels.geometries(conn, m.tenant_id, m.project_id)
            gaps = prelabels.builtin_gaps(geometries)
            for cls, kind in gaps.items():
                out.no_prelabel[cls] = prelabels.no_model_reason(kind, [cls])
            out.prelabel_status = prelabels.coverage_status(gaps)
        return out

    async def get_model(self, req: pb.GetModelRequest) -> pb.GetModelResponse:
        pool = self.r.pool
        m = await self.r.models.get(pool, current_tenant(), req.model_id)
        return pb.GetModelResponse(
            model=await self._with_current(pool, m),
            versions=await self.r.versions.of_model(pool, m),
        )

    async def list_models(self, req: pb.ListModelsRequest) -> pb.ListModelsResponse:
        pool = self.r.pool
        models = await self.r.models.of_project(pool, current_tenant(), req.project_id)
        return pb.ListModelsResponse(models=[await self._with_current(pool, m) for m in models])

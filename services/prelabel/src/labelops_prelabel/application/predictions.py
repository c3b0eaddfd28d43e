"""The serving model's class probabilities for items: PredictItems, and what scoring ranks by.

In the model's tenant: embeddings and trained versions are looked up under it. An external
server is called only through the outbound guard (``ModelServers.predict``), and what
PredictItems says of an item without a prediction never quotes the server's answer."""

from __future__ import annotations

from labelops.labels.v1 import label_pb2 as L
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import FailedPrecondition, FieldViolation, InvalidArgument

from ..adapters.model_server import CallError, ItemRef
from ..domain import prelabels
from ..domain.model import Model
from .repos import Repos

#: Items per model-server call when scoring or predicting (a round may score 50,000).
EXTERNAL_BATCH = 256
#: Why an external model's item has no probabilities although the server answered.
NO_PROBABILITIES = (
    "no class probabilities: the model server's answer has no class_probabilities for the item"
    " (optional for detect / segment), so its uncertainty is unknown"
)
#: (model version, probabilities by item, why an item has none)
Probabilities = tuple[str, dict[str, dict[str, float]], dict[str, str]]


class Predictor:
    def __init__(self, repos: Repos) -> None:
        self.r = repos

    async def probabilities(
        self, m: Model | None, item_ids: list[str], space: str
    ) -> Probabilities:
        """The serving model's probabilities for items: (version, by item, missing reasons)."""
        if m is None:
            return "", {}, dict.fromkeys(item_ids, "the project has no model")
        if m.external:
            return await self._external(m, item_ids)
        if not m.current_version:
            return "", {}, dict.fromkeys(item_ids, "the model is not trained yet")
        trained = await self.r.trained.get(self.r.pool, m, m.current_version)
        vectors = await self.r.embeddings.of_items(self.r.pool, m.tenant_id, item_ids, space)
        out, missing = prelabels.probabilities_of(trained, item_ids, vectors)
        return m.current_version, out, missing

    async def _external(self, m: Model, item_ids: list[str]) -> Probabilities:
        """The server's ``class_probabilities`` (the protocol's field) per item, asked for in
        batches of ``EXTERNAL_BATCH`` with each item's URI and size (the server fetches the
        item itself). An answer without them (a detector may leave them out) gives the item
        no probabilities: scoring then ranks it by diversity alone, and says why."""
        missing: dict[str, str] = {}
        out: dict[str, dict[str, float]] = {}
        known = await self.r.tasks.items(self.r.pool, m.tenant_id, m.project_id, item_ids)
        version = ""
        for start in range(0, len(item_ids), EXTERNAL_BATCH):
            batch = item_ids[start : start + EXTERNAL_BATCH]
            result = await self.r.servers.predict(
                m.url, m.name, [_ref(i, known.get(i)) for i in batch], list(m.classes), m.task
            )
            version = result.model_version or version
            for i in batch:
                pred = result.predictions.get(i)
                if pred is None:
                    missing[i] = result.no_prediction_reason(i) or "no prediction"
                elif not pred.class_probabilities:
                    missing[i] = NO_PROBABILITIES
                else:
                    out[i] = {c: float(pred.class_probabilities.get(c, 0.0)) for c in m.classes}
        return version, out, missing

    async def predict_items(self, req: pb.PredictItemsRequest) -> pb.PredictItemsResponse:
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if not req.item_ids or len(req.item_ids) > 1000:
            bad.append(FieldViolation("item_ids", "give 1 to 1000 item ids"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        m = await self.r.models.serving(self.r.pool, current_tenant(), req.project_id)
        if m is None:
            raise FailedPrecondition(f"project {req.project_id} has no model", reason="NO_MODEL")
        ids = list(dict.fromkeys(req.item_ids))
        version, probs, missing = await self.probabilities(m, ids, m.vector_space)
        if m.external and not probs and _refused(missing):
            raise FailedPrecondition(
                f"model {m.model_id}: its server's URL is not allowed for outbound calls",
                reason="OUTBOUND_URL_NOT_ALLOWED",
            )
        resp = pb.PredictItemsResponse(model_id=m.model_id, model_version=version)
        for i in ids:
            if i in probs:
                resp.predictions.add(item_id=i, probabilities=probs[i])
        for i, why in missing.items():
            resp.missing[i] = why
        return resp


def _refused(missing: dict[str, str]) -> bool:
    """Whether the outbound guard refused the call (so no item got anything)."""
    return bool(missing) and all(
        why.startswith(f"{CallError.NOT_ALLOWED}:") for why in missing.values()
    )


def _ref(item_id: str, known: tuple[str, L.ItemContext] | None) -> ItemRef:
    if known is None:
        return ItemRef(item_id)
    uri, context = known
    return ItemRef(
        item_id, uri, width=max(0, int(context.width)), height=max(0, int(context.height))
    )

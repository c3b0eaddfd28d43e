"""``labelops.prelabel.v1.PrelabelService``: protos in, application calls out, protos back.

The request messages serve as the commands and queries (the application validates them).
"""

from __future__ import annotations

from labelops.prelabel.v1 import prelabel_pb2_grpc

from ..application.out_of_sample import OutOfSample
from ..application.predictions import Predictor
from ..application.registry import ModelRegistry
from ..application.scoring import Scorer
from ..application.switches import RoiSwitches
from ..application.training import Trainer


class PrelabelServicer(prelabel_pb2_grpc.PrelabelServiceServicer):
    def __init__(
        self,
        registry: ModelRegistry,
        trainer: Trainer,
        predictor: Predictor,
        scorer: Scorer,
        switches: RoiSwitches,
        out_of_sample: OutOfSample,
    ) -> None:
        self.registry = registry
        self.trainer = trainer
        self.predictor = predictor
        self.scorer = scorer
        self.switches = switches
        self.oos = out_of_sample

    async def RegisterModel(self, request, context):  # type: ignore[no-untyped-def]
        return await self.registry.register_model(request)

    async def GetModel(self, request, context):  # type: ignore[no-untyped-def]
        return await self.registry.get_model(request)

    async def ListModels(self, request, context):  # type: ignore[no-untyped-def]
        return await self.registry.list_models(request)

    async def TrainModel(self, request, context):  # type: ignore[no-untyped-def]
        return await self.trainer.train_model(request)

    async def PredictItems(self, request, context):  # type: ignore[no-untyped-def]
        return await self.predictor.predict_items(request)

    async def ScorePriorities(self, request, context):  # type: ignore[no-untyped-def]
        return await self.scorer.score_priorities(request)

    async def GetClassRoi(self, request, context):  # type: ignore[no-untyped-def]
        return await self.switches.get_class_roi(request)

    async def SetPreLabeling(self, request, context):  # type: ignore[no-untyped-def]
        return await self.switches.set_prelabeling(request)

    async def GetOutOfSampleProbabilities(self, request, context):  # type: ignore[no-untyped-def]
        return await self.oos.out_of_sample(request)

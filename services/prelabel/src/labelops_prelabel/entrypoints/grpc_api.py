"""``labelops.prelabel.v1.PrelabelService``: protos in, application calls out, protos back."""

from __future__ import annotations

from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.prelabel.v1 import prelabel_pb2_grpc

from ..application.service import PrelabelService

PRELABEL_SERVICE = pb.DESCRIPTOR.services_by_name["PrelabelService"].full_name


class PrelabelServicer(prelabel_pb2_grpc.PrelabelServiceServicer):
    def __init__(self, svc: PrelabelService) -> None:
        self.svc = svc

    async def RegisterModel(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.register_model(request)

    async def GetModel(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.get_model(request)

    async def ListModels(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.list_models(request)

    async def TrainModel(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.train_model(request)

    async def PredictItems(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.predict_items(request)

    async def ScorePriorities(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.score_priorities(request)

    async def GetClassRoi(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.get_class_roi(request)

    async def SetPreLabeling(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.set_prelabeling(request)

    async def GetOutOfSampleProbabilities(self, request, context):  # type: ignore[no-untyped-def]
        return await self.svc.out_of_sample(request)

"""``labelops.datasets.v1.DatasetService``: protos in, application calls out, protos back."""

from __future__ import annotations

from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc

from ..application.versions import DatasetVersions

DATASET_SERVICE = pb.DESCRIPTOR.services_by_name["DatasetService"].full_name


class DatasetServicer(datasets_pb2_grpc.DatasetServiceServicer):
    def __init__(self, versions: DatasetVersions) -> None:
        self.versions = versions

    async def CreateDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        return await self.versions.create(request)

    async def GetDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        return await self.versions.get(request)

    async def ListDatasetVersions(self, request, context):  # type: ignore[no-untyped-def]
        return await self.versions.list_versions(request)

    async def StreamDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        async for message in self.versions.stream(request):
            yield message

    async def DiffDatasetVersions(self, request, context):  # type: ignore[no-untyped-def]
        return await self.versions.diff(request)

    async def ExportDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        async for message in self.versions.export(request):
            yield message

"""``labelops.datasets.v1.DatasetService``: protos in, application calls out, protos back.

The request messages are the commands and queries the application receives as they are.
"""

from __future__ import annotations

from labelops.datasets.v1 import datasets_pb2_grpc

from ..application.queries import DatasetQueries
from ..application.versions import DatasetVersions


class DatasetServicer(datasets_pb2_grpc.DatasetServiceServicer):
    def __init__(self, versions: DatasetVersions, queries: DatasetQueries) -> None:
        self.versions = versions
        self.queries = queries

    async def CreateDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        return await self.versions.create(request)

    async def GetDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        return await self.queries.get(request)

    async def ListDatasetVersions(self, request, context):  # type: ignore[no-untyped-def]
        return await self.queries.list_versions(request)

    async def StreamDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        async for message in self.queries.stream(request):
            yield message

    async def DiffDatasetVersions(self, request, context):  # type: ignore[no-untyped-def]
        return await self.queries.diff(request)

    async def ExportDatasetVersion(self, request, context):  # type: ignore[no-untyped-def]
        async for message in self.queries.export(request):
            yield message

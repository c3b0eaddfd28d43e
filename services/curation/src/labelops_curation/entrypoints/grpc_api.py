"""``labelops.curation.v1.CurationService``: protos in, commands / queries out, protos back.

Domain errors raised below are mapped to status codes with ErrorInfo / BadRequest details by
libs/grpckit. RegisterItems is the one streaming method: it commits message by message.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from grpc import aio
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import curation_pb2_grpc
from labelops_core.errors import DomainError, FieldViolation, InvalidArgument
from labelops_core.ids import new_id

from ..application.handlers import CurationHandlers
from ..application.ingest import ItemIngest
from ..application.queries import CurationQueries, import_response

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["CurationService"].full_name

log = logging.getLogger(__name__)


class CurationServicer(curation_pb2_grpc.CurationServiceServicer):
    def __init__(
        self, handlers: CurationHandlers, ingest: ItemIngest, queries: CurationQueries
    ) -> None:
        self.handlers = handlers
        self.ingest = ingest
        self.queries = queries

    async def CreateDataset(
        self, request: pb.CreateDatasetRequest, context: aio.ServicerContext
    ) -> pb.CreateDatasetResponse:
        return await self.handlers.create_dataset(request)

    async def GetDataset(
        self, request: pb.GetDatasetRequest, context: aio.ServicerContext
    ) -> pb.GetDatasetResponse:
        return await self.queries.get_dataset(request.dataset_id)

    async def ListDatasets(
        self, request: pb.ListDatasetsRequest, context: aio.ServicerContext
    ) -> pb.ListDatasetsResponse:
        return await self.queries.list_datasets(request)

    async def RegisterItems(
        self, request_iterator: AsyncIterator[pb.RegisterItemsRequest], context: aio.ServicerContext
    ) -> pb.RegisterItemsResponse:
        dataset_id = ""
        import_id = ""
        offset = 0
        started = False
        try:
            async for msg in request_iterator:
                if not dataset_id:
                    if not msg.dataset_id:
                        raise InvalidArgument(
                            "the first RegisterItems message must name the dataset",
                            [FieldViolation("dataset_id", "required in the first message")],
                        )
                    dataset_id = msg.dataset_id
                    await self.handlers.policy(dataset_id)
                    import_id = msg.import_id or new_id()
                    await self.ingest.check_import(import_id, dataset_id)
                elif msg.dataset_id and msg.dataset_id != dataset_id:
                    raise InvalidArgument(
                        "one RegisterItems call imports into one dataset",
                        [FieldViolation("dataset_id", f"must stay {dataset_id!r} (or be empty)")],
                    )
                elif msg.import_id and msg.import_id != import_id:
                    raise InvalidArgument(
                        "import_id changed within the stream",
                        [FieldViolation("import_id", f"must stay {import_id!r} (or be empty)")],
                    )
                if not msg.items:
                    continue
                await self.ingest.register_batch(dataset_id, import_id, msg.items, offset=offset)
                started = True
                offset += len(msg.items)
        except DomainError as exc:
            if started:
                await self.ingest.finish_import(dataset_id, import_id, error=exc.message)
            exc.metadata.setdefault("items_committed", str(offset))
            if import_id:
                exc.metadata.setdefault("import_id", import_id)
            raise
        except BaseException:
            if started:
                log.warning("import %s ended after %d items: stream broken", import_id, offset)
                await self.ingest.finish_import(
                    dataset_id, import_id, error=f"stream ended after {offset} items"
                )
            raise
        if not dataset_id:
            raise InvalidArgument(
                "RegisterItems received no messages",
                [FieldViolation("dataset_id", "send at least one message naming the dataset")],
            )
        if not started:
            # An import with no items still gets a record, so GetImport can answer for it.
            await self.ingest.register_batch(dataset_id, import_id, [], offset=0)
        await self.ingest.finish_import(dataset_id, import_id)
        imp = getattr(await self.queries.get_import(import_id), "import")
        return import_response(pb.RegisterItemsResponse, imp)

    async def GetImport(
        self, request: pb.GetImportRequest, context: aio.ServicerContext
    ) -> pb.GetImportResponse:
        return await self.queries.get_import(request.import_id)

    async def GetItem(
        self, request: pb.GetItemRequest, context: aio.ServicerContext
    ) -> pb.GetItemResponse:
        return await self.queries.get_item(request.dataset_id, request.item_id)

    async def ListItems(
        self, request: pb.ListItemsRequest, context: aio.ServicerContext
    ) -> pb.ListItemsResponse:
        return await self.queries.list_items(request)

    async def FindDuplicates(
        self, request: pb.FindDuplicatesRequest, context: aio.ServicerContext
    ) -> pb.FindDuplicatesResponse:
        return await self.handlers.find_duplicates(request)

    async def SearchSimilar(
        self, request: pb.SearchSimilarRequest, context: aio.ServicerContext
    ) -> pb.SearchSimilarResponse:
        return await self.queries.search_similar(request)

    async def SearchText(
        self, request: pb.SearchTextRequest, context: aio.ServicerContext
    ) -> pb.SearchTextResponse:
        return await self.queries.search_text(request)

    async def AnalyzeCoverage(
        self, request: pb.AnalyzeCoverageRequest, context: aio.ServicerContext
    ) -> pb.AnalyzeCoverageResponse:
        return await self.handlers.analyze_coverage(request)

    async def CurateItems(
        self, request: pb.CurateItemsRequest, context: aio.ServicerContext
    ) -> pb.CurateItemsResponse:
        return await self.handlers.curate_items(request)

"""``labelops.ontology.v1.OntologyService``: protos in, commands / queries out, protos back.

Nothing but translation lives here. Errors are domain errors raised below; libs/grpckit maps
them to status codes with ErrorInfo and BadRequest details.
"""

from __future__ import annotations

from grpc import aio
from labelops.ontology.v1 import ontology_pb2, ontology_pb2_grpc

from ..application.handlers import OntologyHandlers
from ..application.queries import OntologyQueries
from ..domain import commands

SERVICE_NAME = ontology_pb2.DESCRIPTOR.services_by_name["OntologyService"].full_name


class OntologyServicer(ontology_pb2_grpc.OntologyServiceServicer):
    def __init__(self, handlers: OntologyHandlers, queries: OntologyQueries) -> None:
        self.handlers = handlers
        self.queries = queries

    async def CreateOntology(
        self, request: ontology_pb2.CreateOntologyRequest, context: aio.ServicerContext
    ) -> ontology_pb2.CreateOntologyResponse:
        return await self.handlers.create_ontology(
            commands.CreateOntology(
                ontology_id=request.ontology_id,
                display_name=request.display_name,
                description=request.description,
                definition=request.definition,
                request_id=request.request_id,
            )
        )

    async def GetOntology(
        self, request: ontology_pb2.GetOntologyRequest, context: aio.ServicerContext
    ) -> ontology_pb2.GetOntologyResponse:
        return await self.queries.get_ontology(request.ontology_id)

    async def ListOntologies(
        self, request: ontology_pb2.ListOntologiesRequest, context: aio.ServicerContext
    ) -> ontology_pb2.ListOntologiesResponse:
        return await self.queries.list_ontologies(
            request.page_size, request.page_token, request.show_deprecated
        )

    async def UpdateOntologyDraft(
        self, request: ontology_pb2.UpdateOntologyDraftRequest, context: aio.ServicerContext
    ) -> ontology_pb2.UpdateOntologyDraftResponse:
        return await self.handlers.update_ontology_draft(
            commands.UpdateOntologyDraft(
                ontology_id=request.ontology_id,
                expected_revision=request.expected_revision,
                edits=list(request.edits),
                request_id=request.request_id,
            )
        )

    async def PublishOntologyVersion(
        self, request: ontology_pb2.PublishOntologyVersionRequest, context: aio.ServicerContext
    ) -> ontology_pb2.PublishOntologyVersionResponse:
        return await self.handlers.publish_ontology_version(
            commands.PublishOntologyVersion(
                ontology_id=request.ontology_id,
                expected_revision=request.expected_revision,
                version=request.version,
                notes=request.notes,
                request_id=request.request_id,
            )
        )

    async def GetOntologyVersion(
        self, request: ontology_pb2.GetOntologyVersionRequest, context: aio.ServicerContext
    ) -> ontology_pb2.GetOntologyVersionResponse:
        return await self.queries.get_ontology_version(request.ontology_id, request.version)

    async def DiffOntologyVersions(
        self, request: ontology_pb2.DiffOntologyVersionsRequest, context: aio.ServicerContext
    ) -> ontology_pb2.DiffOntologyVersionsResponse:
        return await self.queries.diff_ontology_versions(
            request.ontology_id, request.from_version, request.to_version
        )

    async def CreateOntologyMigration(
        self, request: ontology_pb2.CreateOntologyMigrationRequest, context: aio.ServicerContext
    ) -> ontology_pb2.CreateOntologyMigrationResponse:
        return await self.handlers.create_ontology_migration(
            commands.CreateOntologyMigration(
                ontology_id=request.ontology_id,
                from_version=request.from_version,
                to_version=request.to_version,
                rules=list(request.rules),
                request_id=request.request_id,
            )
        )

    async def DeprecateOntology(
        self, request: ontology_pb2.DeprecateOntologyRequest, context: aio.ServicerContext
    ) -> ontology_pb2.DeprecateOntologyResponse:
        return await self.handlers.deprecate_ontology(
            commands.DeprecateOntology(
                ontology_id=request.ontology_id,
                reason=request.reason,
                request_id=request.request_id,
            )
        )

    async def ValidateLabels(
        self, request: ontology_pb2.ValidateLabelsRequest, context: aio.ServicerContext
    ) -> ontology_pb2.ValidateLabelsResponse:
        return await self.queries.validate_labels(
            request.ontology_id, request.version, request.items
        )

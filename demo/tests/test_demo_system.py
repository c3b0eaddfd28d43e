"""The six services in one process, wired through Kafka: all serve, and an event crosses them
(a published ontology version reaches routing, which projects it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_demo.system import SERVICES, local_system
from labelops_grpckit import Authenticator, channel
from labelops_testkit.grpc import serving
from labelops_testkit.waiting import eventually

KEY = "system-key-0123456789"
KEYS = {KEY: {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]}}


async def test_all_six_services_serve_and_talk_through_kafka(
    pg_dsn: str,
    pg_pool: Any,
    kafka_bootstrap: str,
    unique_name: str,
    fresh_schemas: Any,
    tmp_path: Path,
) -> None:
    schemas = dict(zip(SERVICES, await fresh_schemas(len(SERVICES)), strict=True))
    async with local_system(
        kafka_bootstrap=kafka_bootstrap,
        pg_dsn=pg_dsn,
        data_dir=tmp_path,
        schemas=schemas,
        prefix=f"{unique_name}-",
        authenticator=Authenticator(KEYS),
    ) as system:
        for service in SERVICES:
            assert await serving(system.targets[service]), service
        async with channel(system.targets["ontology"], api_key=KEY) as ch:
            stub = ontology_pb2_grpc.OntologyServiceStub(ch)
            d = D.OntologyDefinition()
            d.classes.add(id="cat", name="Cat", geometry=D.GEOMETRY_KIND_CLASSIFICATION)
            created = await stub.CreateOntology(
                opb.CreateOntologyRequest(ontology_id="pets", display_name="Pets", definition=d)
            )
            await stub.PublishOntologyVersion(
                opb.PublishOntologyVersionRequest(
                    ontology_id="pets",
                    expected_revision=created.ontology.draft_revision,
                    version="1.0.0",
                )
            )
        await eventually(
            lambda: pg_pool.fetchval(
                f'SELECT count(*) FROM "{schemas["routing"]}".ontology_versions'
            )
        )

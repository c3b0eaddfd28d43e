"""Fixtures of the ontology service tests.

This directory is on sys.path (pytest's prepend import mode puts a conftest's directory there),
so tests import ``ontology_samples`` and ``ontology_grpc_support``. The integration fixtures run
the real service (``build_app``) on an ephemeral port, in the test's own Postgres schema, with
its own Kafka topic (``labelops.<unique_name>.events.v1``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_grpckit import Authenticator, channel
from labelops_ontology.bootstrap import App, build_app
from ontology_grpc_support import API_KEY, CLIENT_MAX_BYTES, PRINCIPAL, ontology_settings


@pytest_asyncio.fixture(loop_scope="session")
async def ontology_app(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str
) -> AsyncIterator[App]:
    """The ontology service, serving on 127.0.0.1:<ephemeral> with one API key (alice@acme)."""
    settings = ontology_settings(pg_schema, unique_name, kafka_bootstrap)
    auth = Authenticator({API_KEY: PRINCIPAL})
    async with build_app(settings, pool=pg_pool, authenticator=auth) as app:
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def ontology_stub(ontology_app: App) -> AsyncIterator[ontology_pb2_grpc.OntologyServiceStub]:
    """A client of the service; its message limits exceed the server's so that the server is
    the one refusing oversized requests."""
    async with channel(
        ontology_app.target,
        api_key=API_KEY,
        max_send_message_bytes=CLIENT_MAX_BYTES,
        max_receive_message_bytes=CLIENT_MAX_BYTES,
    ) as ch:
        yield ontology_pb2_grpc.OntologyServiceStub(ch)

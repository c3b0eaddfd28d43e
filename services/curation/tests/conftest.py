"""Fixtures of the curation service tests.

This directory is on sys.path (pytest's prepend import mode), so tests import
``curation_support``. The integration fixtures run the real service (``build_app``) on an
ephemeral port, in the test's own Postgres schema and Kafka topic, with embedded in-memory
Qdrant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from curation_support import API_KEY, CLIENT_MAX_BYTES, PRINCIPAL, curation_settings
from labelops.curation.v1 import curation_pb2_grpc
from labelops_curation.bootstrap import App, build_app
from labelops_grpckit import Authenticator, channel


@pytest_asyncio.fixture(loop_scope="session")
async def curation_app(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> AsyncIterator[App]:
    """The curation service on 127.0.0.1:<ephemeral> with one API key; it may read files
    under the test's ``tmp_path``."""
    settings = curation_settings(
        pg_schema, unique_name, kafka_bootstrap, file_roots=[str(tmp_path)]
    )
    auth = Authenticator({API_KEY: PRINCIPAL})
    async with build_app(settings, pool=pg_pool, authenticator=auth) as app:
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def curation_stub(
    curation_app: App,
) -> AsyncIterator[curation_pb2_grpc.CurationServiceStub]:
    async with channel(
        curation_app.target,
        api_key=API_KEY,
        max_send_message_bytes=CLIENT_MAX_BYTES,
        max_receive_message_bytes=CLIENT_MAX_BYTES,
    ) as ch:
        yield curation_pb2_grpc.CurationServiceStub(ch)

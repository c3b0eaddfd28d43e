"""Fixtures of the datasets service tests.

The integration fixture runs the real service (``build_app``) in the test's own Postgres schema,
topics and object-store folder; the test plays qa, curation and the ontology service by
publishing their events.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
from datasets_support import KEYS, MLOPS_KEY
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops_bus import ensure_topics
from labelops_datasets.bootstrap import App, build_app
from labelops_datasets.config import Settings
from labelops_grpckit import Authenticator, channel
from labelops_testkit.kafka import end_offsets, publish


@dataclass
class Ds:
    app: App
    stub: datasets_pb2_grpc.DatasetServiceStub
    settings: Settings
    kafka: str

    async def qa(self, envelopes: Sequence[Any]) -> None:
        await publish(self.kafka, self.settings.qa_topic, envelopes)

    async def curation(self, envelopes: Sequence[Any]) -> None:
        await publish(self.kafka, self.settings.curation_topic, envelopes)

    async def ontology(self, envelopes: Sequence[Any]) -> None:
        await publish(self.kafka, self.settings.ontology_topic, envelopes)

    async def ends(self, topic: str | None = None) -> dict[int, int]:
        """End offsets of a consumed topic (default: the qa topic)."""
        ends = await end_offsets(self.kafka, topic or self.settings.qa_topic)
        return {p: o for p, o in ends.items() if o > 0}

    async def caught_up(self) -> None:
        """Wait until every projection has consumed what was published so far."""
        from datasets_support import eventually
        from labelops_bus import read_positions
        from labelops_datasets.application.projection import (
            CURATION_CONSUMER,
            ONTOLOGY_CONSUMER,
            QA_CONSUMER,
        )

        s = self.settings
        for consumer, topic in (
            (QA_CONSUMER, s.qa_topic),
            (CURATION_CONSUMER, s.curation_topic),
            (ONTOLOGY_CONSUMER, s.ontology_topic),
        ):
            ends = await self.ends(topic)

            async def done(consumer: str = consumer, topic: str = topic, ends: Any = ends) -> bool:
                pos = await read_positions(self.app.pool, s.db_schema, consumer, topic)
                return all(pos.get(p, 0) >= o for p, o in ends.items())

            await eventually(done, timeout=60)


def settings_for(
    name: str, schema: str, kafka: str, store: Path, *, topics: str | None = None, **kw: Any
) -> Settings:
    """Settings of a test instance; ``topics`` names the consumed topics (default: ``name``),
    so two instances can read the same log with their own groups and schemas."""
    topics = topics or name
    return Settings(
        db_schema=schema,
        service_name=name,
        kafka_bootstrap=kafka,
        qa_topic=f"{topics}.qa-in",
        curation_topic=f"{topics}.curation-in",
        ontology_topic=f"{topics}.ontology-in",
        store_url=str(store),
        segment_span=kw.pop("segment_span", 32),
        projection_batch=kw.pop("projection_batch", 500),
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
        **kw,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def ds(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> AsyncIterator[Ds]:
    settings = settings_for(unique_name, pg_schema, kafka_bootstrap, tmp_path / "store")
    await ensure_topics(
        kafka_bootstrap, [settings.qa_topic, settings.curation_topic, settings.ontology_topic], 3
    )
    async with serving(settings, pg_pool) as (app, stub):
        yield Ds(app, stub, settings, kafka_bootstrap)


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, pool: Any
) -> AsyncIterator[tuple[App, datasets_pb2_grpc.DatasetServiceStub]]:
    """The service, and a stub with the MLOps credential."""
    async with (
        build_app(settings, pool=pool, authenticator=Authenticator(KEYS)) as app,
        channel(app.target, api_key=MLOPS_KEY) as ch,
    ):
        yield app, datasets_pb2_grpc.DatasetServiceStub(ch)

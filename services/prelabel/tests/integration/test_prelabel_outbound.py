"""SSRF: model server URLs to loopback, link-local, private and metadata addresses are refused
at registration and at every call, and a canary on 127.0.0.1 is never connected to."""

from __future__ import annotations

import socket
from typing import Any

import grpc
import pytest
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_testkit.grpc import fails
from prelabel_support import Canary, embedded, task_created, until

pytestmark = pytest.mark.asyncio(loop_scope="session")


def external(project_id: str, url: str, **kw: Any) -> pb.RegisterModelRequest:
    return pb.RegisterModelRequest(
        project_id=project_id,
        name="ext",
        kind=pb.MODEL_KIND_EXTERNAL,
        classes=["cat", "dog"],
        url=url,
        task="classify",
        **kw,
    )


async def test_model_urls_to_internal_addresses_are_never_called(
    pg_pool: Any, prelabel_settings: Any, start: Any
) -> None:
    closed = prelabel_settings.model_copy(update={"outbound_allow": []})
    with Canary() as canary:
        port = canary.port
        bad = [
            canary.url,
            f"http://[::1]:{port}/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            f"http://localhost:{port}/",
        ]
        # A model stored before the rule (here: under a wider allow list), no worker running
        # (nor a consumer: the restarted service's group then never waits for a leaving one).
        opened = prelabel_settings.model_copy(
            update={"workers_enabled": False, "consumers_enabled": False}
        )
        async with start(opened, pg_pool) as p:
            stored = (await p.stub.RegisterModel(external("old", canary.url))).model
        assert canary.connections == 0  # registering calls nothing

        async with start(closed, pg_pool) as p:
            events_before = await p.count("SELECT count(*) FROM {t}.events")
            for url in bad:
                _, fields = await fails(
                    p.stub.RegisterModel(external("new", url, request_id=f"r-{url}")),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "OUTBOUND_URL_NOT_ALLOWED",
                )
                assert fields == ["url"], url
            assert await p.count("SELECT count(*) FROM {t}.events") == events_before
            assert await p.count("SELECT count(*) FROM {t}.models WHERE project_id = 'new'") == 0

            # The stored model is refused at call time: its tasks go on without pre-labels...
            items = [f"old-i{i}" for i in range(3)]
            await p.curation([embedded(i, [float(n), 1.0]) for n, i in enumerate(items)])
            await p.routing([task_created("old", f"old-t{n}", i) for n, i in enumerate(items)])
            reasons = await until(
                lambda: p.app.pool.fetch(
                    f'SELECT prelabel_reason FROM "{closed.db_schema}".tasks'
                    " WHERE project_id = 'old' AND prelabel_state = 'failed'"
                ),
                lambda rows: len(rows) == 3,
            )
            assert {r["prelabel_reason"] for r in reasons} == {
                "not_allowed: the model server's URL is not allowed for outbound calls"
            }
            # ... PredictItems refuses, scoring ranks without it, a training does not call it.
            await fails(
                p.stub.PredictItems(pb.PredictItemsRequest(project_id="old", item_ids=items)),
                grpc.StatusCode.FAILED_PRECONDITION,
                "OUTBOUND_URL_NOT_ALLOWED",
            )
            await until(
                lambda: p.count("SELECT count(*) FROM {t}.embeddings WHERE item_id LIKE 'old-%'"),
                lambda n: n == 3,
            )
            scored = await p.stub.ScorePriorities(pb.ScorePrioritiesRequest(project_id="old"))
            assert len(scored.priorities) == 3
            await fails(
                p.stub.TrainModel(pb.TrainModelRequest(model_id=stored.model_id)),
                grpc.StatusCode.FAILED_PRECONDITION,
                "MODEL_NOT_TRAINABLE",
            )
        assert canary.connections == 0
        # The canary does notice a connection (this test could fail).
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        await until(lambda: _value(canary.connections), lambda n: n == 1, timeout=5)


async def _value(n: int) -> int:
    return n

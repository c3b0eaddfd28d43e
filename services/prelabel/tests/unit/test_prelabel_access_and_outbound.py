"""The method -> action table covers every PrelabelService method, and the model servers sit
behind the outbound guard: a refused URL is never dialed and nothing a server sent reaches a
caller's answer."""

from __future__ import annotations

import pytest
from labelops.prelabel.v1 import prelabel_pb2
from labelops_core.authz import Action, method_table
from labelops_core.errors import InvalidArgument
from labelops_core.netguard import OutboundPolicy
from labelops_prelabel.adapters.model_server import (
    CallError,
    ItemRef,
    ModelServerClient,
    ModelServers,
    PredictionResult,
)
from labelops_prelabel.entrypoints.access import METHOD_ACTIONS
from labelops_testkit.model_server import Reply, running

ITEMS = [ItemRef("i-1", "s3://b/1.png", width=10, height=10)]


def test_every_method_of_the_descriptor_names_an_action() -> None:
    service = prelabel_pb2.DESCRIPTOR.services_by_name["PrelabelService"]
    methods = [f"/{service.full_name}/{m.name}" for m in service.methods]
    assert method_table(METHOD_ACTIONS, methods) == []
    assert set(METHOD_ACTIONS) == set(methods)  # and nothing it does not have


def test_writes_are_not_reads() -> None:
    writes = {"RegisterModel", "TrainModel", "SetPreLabeling", "ScorePriorities", "PredictItems"}
    for name, action in METHOD_ACTIONS.items():
        short = name.rsplit("/", 1)[1]
        assert (action is Action.MODEL_READ) == (short not in writes), name


def _never(url: str) -> ModelServerClient:
    raise AssertionError(f"a client was made for {url}: the guard let it through")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://[::1]:9/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://localhost:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://user:pw@example.com/",
    ],
)
@pytest.mark.asyncio
async def test_refused_urls_are_never_dialed(url: str) -> None:
    servers = ModelServers(_never)
    with pytest.raises(InvalidArgument) as info:
        await servers.check(url)
    assert info.value.reason == "OUTBOUND_URL_NOT_ALLOWED"
    assert [v.field for v in info.value.violations] == ["url"]
    result = await servers.predict(url, "m", ITEMS, ["a", "b"], "classify")
    assert result.error is CallError.NOT_ALLOWED and result.attempts == 0
    assert result.no_prediction_reason("i-1") == (
        "not_allowed: the model server's URL is not allowed for outbound calls"
    )


@pytest.mark.asyncio
async def test_an_allow_listed_server_is_called_and_its_body_never_told() -> None:
    with running() as server:
        server.respond = lambda request: Reply(status=503, body=b"SECRET-metadata-token")
        servers = ModelServers(
            lambda url: ModelServerClient(url, retries=0, timeout_s=2.0),
            OutboundPolicy.of(["127.0.0.1/32"]),
        )
        try:
            result = await servers.predict(server.url, "m", ITEMS, ["a", "b"], "classify")
        finally:
            await servers.close()
        assert server.calls == 1
    assert result.error is CallError.SERVER_ERROR and "SECRET" in result.detail  # logs only
    told = result.no_prediction_reason("i-1") or ""
    assert told == "server_error: the model server answered 503" and "SECRET" not in told


@pytest.mark.parametrize(
    "error", [e for e in CallError if e not in (CallError.SERVER_ERROR, CallError.REJECTED)]
)
def test_no_reason_quotes_the_detail(error: CallError) -> None:
    result = PredictionResult(error=error, detail="body: SECRET")
    told = result.no_prediction_reason("x") or ""
    assert told.startswith(f"{error}: ") and "SECRET" not in told

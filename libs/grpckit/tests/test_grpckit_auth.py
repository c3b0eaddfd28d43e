"""Authenticator configuration and the interceptor's principal binding, without a network."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from labelops_core.context import Principal, current_principal
from labelops_core.errors import Unauthenticated
from labelops_grpckit import Authenticator, LabelopsServerInterceptor

ALICE = {"subject": "alice", "tenant_id": "acme", "roles": ["admin"], "kind": "user"}
VENDOR = {
    "subject": "vendor-a",
    "tenant_id": "acme",
    "kind": "vendor",
    "vendor_id": "vendor-a",
    "roles": ["vendor"],
}
SECRET = "s" * 32


def test_from_env_reads_inline_json_and_file(tmp_path):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"vk": VENDOR}))
    auth = Authenticator.from_env(
        {
            "LABELOPS_API_KEYS": json.dumps({"key1": ALICE}),
            "LABELOPS_API_KEYS_FILE": str(keys_file),
            "LABELOPS_JWT_SECRET": SECRET,
        }
    )
    assert auth.authenticate([("x-api-key", "key1")]) == Principal(
        "alice", "acme", "user", frozenset({"admin"})
    )
    assert auth.authenticate([("x-api-key", "vk")]).vendor_id == "vendor-a"


def test_from_env_without_configuration_rejects_everything():
    auth = Authenticator.from_env({})
    assert not auth.configured
    with pytest.raises(Unauthenticated) as excinfo:
        auth.authenticate([("x-api-key", "anything")])
    assert excinfo.value.reason == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LABELOPS_API_KEYS": "{not json"}, "not valid JSON"),
        ({"LABELOPS_API_KEYS": '["a"]'}, "expected"),
        (
            {"LABELOPS_API_KEYS": json.dumps({"secret-key-1": {**VENDOR, "vendor_id": None}})},
            "vendor principal needs vendor_id",
        ),
        ({"LABELOPS_API_KEYS": json.dumps({"secret-key-1": {"subject": "x"}})}, "tenant_id"),
        (
            {"LABELOPS_API_KEYS": json.dumps({"secret-key-1": {**ALICE, "tenant": "acme"}})},
            "unknown fields",
        ),
        ({"LABELOPS_API_KEYS": json.dumps({"secret-key-1": {**ALICE, "kind": "robot"}})}, "kind"),
        ({"LABELOPS_JWT_SECRET": "short"}, "at least 32 bytes"),
    ],
    ids=["bad-json", "not-object", "vendor-no-id", "no-tenant", "typo", "bad-kind", "short-secret"],
)
def test_bad_configuration_fails_at_startup_without_echoing_keys(env, message):
    with pytest.raises(ValueError, match=message) as excinfo:
        Authenticator.from_env(env)
    assert "secret-key-1" not in str(excinfo.value)


def test_key_defined_in_env_and_file_is_an_error(tmp_path):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"key1": ALICE}))
    with pytest.raises(ValueError, match="defined twice"):
        Authenticator.from_env(
            {
                "LABELOPS_API_KEYS": json.dumps({"key1": ALICE}),
                "LABELOPS_API_KEYS_FILE": str(keys_file),
            }
        )


def test_authorization_must_be_bearer():
    auth = Authenticator({"k": ALICE}, jwt_secret=SECRET)
    with pytest.raises(Unauthenticated) as excinfo:
        auth.authenticate([("authorization", "Basic YWxpY2U6cHc=")])
    assert excinfo.value.reason == "TOKEN_INVALID"


class _FakeContext:
    """Just enough of grpc.aio.ServicerContext for the interceptor's wrappers."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        return 10.0

    def done(self) -> bool:
        return False

    async def abort(self, code: Any, details: str = "", trailing_metadata: Any = ()) -> None:
        raise AssertionError(f"unexpected abort {code} {details}")


class _Handler:
    """An RpcMethodHandler-like object for ``intercept_service``."""

    def __init__(self, behavior: Any, *, streaming: bool) -> None:
        self.request_streaming = False
        self.response_streaming = streaming
        self.request_deserializer = None
        self.response_serializer = None
        self.unary_unary = None if streaming else behavior
        self.unary_stream = behavior if streaming else None


class _Details:
    method = "/labelops.test.v1.KindsService/M"
    invocation_metadata = ()


async def _wrap(behavior: Any, *, streaming: bool) -> Any:
    interceptor = LabelopsServerInterceptor(Authenticator({"k": ALICE}))

    async def continuation(_details: Any) -> _Handler:
        return _Handler(behavior, streaming=streaming)

    handler = await interceptor.intercept_service(continuation, _Details())
    assert handler is not None
    return handler.unary_stream if streaming else handler.unary_unary


async def test_principal_is_bound_for_unary_handler_and_reset_after():
    seen: list[Principal | None] = []

    async def behavior(request: bytes, context: Any) -> bytes:
        seen.append(current_principal())
        return b"ok"

    handle = await _wrap(behavior, streaming=False)
    assert await handle(b"", _FakeContext((("x-api-key", "k"),))) == b"ok"
    assert seen[0] is not None and seen[0].subject == "alice"
    assert current_principal() is None


async def test_principal_is_bound_across_stream_yields_and_reset_after():
    seen: list[Principal | None] = []

    async def behavior(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for _ in range(2):
            seen.append(current_principal())
            yield b"m"

    handle = await _wrap(behavior, streaming=True)
    assert [m async for m in handle(b"", _FakeContext((("x-api-key", "k"),)))] == [b"m", b"m"]
    assert [p.subject if p else None for p in seen] == ["alice", "alice"]
    assert current_principal() is None

"""Client channels that speak the same dialect as ``GrpcServer``.

Same message-size limits, credentials on every call, a default deadline for unary calls and
OpenTelemetry client spans whose context travels to the server in ``traceparent`` metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc.aio import ClientCallDetails, Metadata
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.trace import TracerProvider

from labelops_grpckit.auth import API_KEY_HEADER, AUTHORIZATION_HEADER
from labelops_grpckit.options import DEFAULT_MAX_MESSAGE_BYTES, message_size_options

#: Client-side deadline for unary calls that pass no ``timeout``.
DEFAULT_CLIENT_TIMEOUT_S = 30.0


class _CallDefaults:
    """Adds credentials and (for unary-unary) a default timeout to a call's details."""

    def __init__(
        self,
        api_key: str | None,
        bearer_token: str | Callable[[], str] | None,
        default_timeout: float | None,
    ) -> None:
        if api_key is not None and bearer_token is not None:
            raise ValueError("pass api_key or bearer_token, not both")
        self._api_key = api_key
        self._bearer_token = bearer_token
        self._default_timeout = default_timeout

    def details(self, details: ClientCallDetails, *, unary: bool) -> ClientCallDetails:
        metadata = Metadata(*tuple(details.metadata or ()))
        # Credentials given on the call itself win: the gateway forwards end-user tokens over a
        # channel that otherwise carries its own key, and the server refuses two credentials.
        if API_KEY_HEADER not in metadata and AUTHORIZATION_HEADER not in metadata:
            if self._api_key is not None:
                metadata.add(API_KEY_HEADER, self._api_key)
            elif self._bearer_token is not None:
                token = self._bearer_token() if callable(self._bearer_token) else self._bearer_token
                metadata.add(AUTHORIZATION_HEADER, f"Bearer {token}")
        timeout = details.timeout
        if timeout is None and unary:
            timeout = self._default_timeout
        return ClientCallDetails(
            details.method, timeout, metadata, details.credentials, details.wait_for_ready
        )


# grpc.aio files each interceptor under the first of the four kinds it subclasses, so one
# object per kind is needed.
class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, defaults: _CallDefaults) -> None:
        self._defaults = defaults

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._defaults.details(client_call_details, unary=True), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, defaults: _CallDefaults) -> None:
        self._defaults = defaults

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._defaults.details(client_call_details, unary=False), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, defaults: _CallDefaults) -> None:
        self._defaults = defaults

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await continuation(
            self._defaults.details(client_call_details, unary=False), request_iterator
        )


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, defaults: _CallDefaults) -> None:
        self._defaults = defaults

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await continuation(
            self._defaults.details(client_call_details, unary=False), request_iterator
        )


def client_interceptors(
    *,
    api_key: str | None = None,
    bearer_token: str | Callable[[], str] | None = None,
    default_timeout: float | None = DEFAULT_CLIENT_TIMEOUT_S,
) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors adding credentials metadata and a default unary timeout to every call.

    ``bearer_token`` may be a callable, called per call, so a refreshed token is picked up.
    Streams get no default timeout (they are long-lived by design), matching the server.
    """
    defaults = _CallDefaults(api_key, bearer_token, default_timeout)
    return [
        _UnaryUnary(defaults),
        _UnaryStream(defaults),
        _StreamUnary(defaults),
        _StreamStream(defaults),
    ]


def channel(
    target: str,
    *,
    api_key: str | None = None,
    bearer_token: str | Callable[[], str] | None = None,
    default_timeout: float | None = DEFAULT_CLIENT_TIMEOUT_S,
    max_receive_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_send_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    credentials: grpc.ChannelCredentials | None = None,
    tracer_provider: TracerProvider | None = None,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A grpc.aio channel to ``target`` (``host:port``) configured like ``GrpcServer``.

    Args:
        api_key / bearer_token: credentials sent on every call (at most one of the two);
            metadata passed on a call overrides them.
        default_timeout: seconds for unary-unary calls that pass no ``timeout``; None = none.
        max_receive_message_bytes / max_send_message_bytes: default 8 MiB, like the server.
        credentials: TLS channel credentials; plaintext when None.
        tracer_provider: for client spans; the global provider when None.
        interceptors: extra interceptors, run inside the credential and tracing ones.
        options: extra channel options.

    Use as ``async with channel(...) as ch:`` or close it with ``await ch.close()``.
    """
    all_interceptors: list[grpc.aio.ClientInterceptor] = [
        *client_interceptors(
            api_key=api_key, bearer_token=bearer_token, default_timeout=default_timeout
        ),
        *aio_client_interceptors(tracer_provider=tracer_provider),
        *interceptors,
    ]
    channel_options = [
        *message_size_options(max_receive_message_bytes, max_send_message_bytes),
        *options,
    ]
    if credentials is None:
        return grpc.aio.insecure_channel(
            target, options=channel_options, interceptors=all_interceptors
        )
    return grpc.aio.secure_channel(
        target, credentials, options=channel_options, interceptors=all_interceptors
    )

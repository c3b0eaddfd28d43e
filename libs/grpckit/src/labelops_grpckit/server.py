"""``GrpcServer``: the grpc.aio bootstrap every labelops service runs.

It mounts the service's servicers next to grpc.health.v1 and server reflection, installs the
OpenTelemetry and labelops interceptors, applies message-size limits, and stops gracefully
(health flips to NOT_SERVING first, so load balancers drain before in-flight calls finish).

Typical ``__main__``::

    server = GrpcServer(port=50051)
    server.add_service(add_EventLogServiceServicer_to_server, servicer, EVENTLOG_SERVICE)
    await server.serve()  # start, stop on SIGTERM / SIGINT, return when stopped
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from labelops_core.audit import AuditSink
from labelops_core.authz import Action
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.trace import TracerProvider

from labelops_grpckit.auth import Authenticator
from labelops_grpckit.interceptor import (
    DEFAULT_UNARY_TIMEOUT_S,
    PUBLIC_METHOD_PREFIXES,
    LabelopsServerInterceptor,
)
from labelops_grpckit.options import DEFAULT_MAX_MESSAGE_BYTES, message_size_options
from labelops_grpckit.ratelimit import RateLimit, RateLimiter
from labelops_grpckit.validation import RequestLimits, RequestValidator

_log = logging.getLogger(__name__)

#: Seconds in-flight calls get to finish on stop before they are cancelled.
DEFAULT_GRACE_PERIOD_S = 10.0

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

AddServicerFn = Callable[[Any, grpc.aio.Server], None]


def _traced(handler_call_details: grpc.HandlerCallDetails) -> bool:
    # Kubernetes probes hit health every few seconds; their spans would drown real traffic.
    return not handler_call_details.method.startswith(PUBLIC_METHOD_PREFIXES)


class GrpcServer:
    """A grpc.aio server with health, reflection, auth, error mapping, deadlines and tracing.

    Args:
        host: interface to bind; "[::]" listens on all.
        port: TCP port; 0 picks a free one (see ``start()``'s return value / ``port``).
        authenticator: credentials → Principal; built from the environment when None
            (``Authenticator.from_env``).
        default_timeout: server deadline for unary-unary calls that bring none; None = none.
        max_receive_message_bytes / max_send_message_bytes: per-message limits (8 MiB). A
            larger request fails with RESOURCE_EXHAUSTED, raised by grpc itself.
        grace_period: seconds in-flight calls may run on ``stop()``.
        tracer_provider: for server spans; the global provider when None.
        public_methods: extra full method names that need no credentials.
        method_actions: full method name → Action; when given, methods it does not name are
            refused (see ``LabelopsServerInterceptor``).
        audit: sink of commands and denials.
        service_name: the name audit records carry.
        interceptors: extra server interceptors, run inside the built-in ones (so they see the
            principal and their errors are mapped).
        server_credentials: TLS credentials; plaintext when None.
        maximum_concurrent_rpcs: beyond it, calls fail with RESOURCE_EXHAUSTED; None = no cap.
        options: extra grpc server options.
        request_limits: caps of the generic request validator (``validation.RequestLimits``);
            None = the defaults. Every request message is validated.
        rate_limit: per-principal token bucket (``RateLimit(rate_per_s, burst)``, default
            500/s, burst 1000), or a ready ``RateLimiter`` to share with handlers that charge
            per stream message (see ``rate_limiter``); None = no rate limit.
    """

    def __init__(
        self,
        *,
        host: str = "[::]",
        port: int = 0,
        authenticator: Authenticator | None = None,
        default_timeout: float | None = DEFAULT_UNARY_TIMEOUT_S,
        max_receive_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_send_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        grace_period: float = DEFAULT_GRACE_PERIOD_S,
        tracer_provider: TracerProvider | None = None,
        public_methods: Iterable[str] = (),
        method_actions: Mapping[str, Action] | None = None,
        audit: AuditSink | None = None,
        service_name: str = "",
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        server_credentials: grpc.ServerCredentials | None = None,
        maximum_concurrent_rpcs: int | None = None,
        options: Sequence[tuple[str, Any]] = (),
        request_limits: RequestLimits | None = None,
        rate_limit: RateLimit | RateLimiter | None = RateLimit(),  # noqa: B008 - frozen
    ) -> None:
        self._host = host
        self._requested_port = port
        self._authenticator = authenticator or Authenticator.from_env()
        self._default_timeout = default_timeout
        self._max_receive = max_receive_message_bytes
        self._max_send = max_send_message_bytes
        self._grace_period = grace_period
        self._tracer_provider = tracer_provider
        self._public_methods = tuple(public_methods)
        self._method_actions = None if method_actions is None else dict(method_actions)
        self._audit = audit
        self._service_name = service_name
        self._extra_interceptors = tuple(interceptors)
        self._server_credentials = server_credentials
        self._maximum_concurrent_rpcs = maximum_concurrent_rpcs
        self._options = tuple(options)
        self._validator = RequestValidator(request_limits)
        self._rate_limiter = (
            RateLimiter.of(rate_limit) if isinstance(rate_limit, RateLimit) else rate_limit
        )
        self._services: list[tuple[AddServicerFn, Any, str]] = []
        self._health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._port: int | None = None
        self._stop_task: asyncio.Task[None] | None = None

    def add_service(self, add_to_server: AddServicerFn, servicer: Any, service_name: str) -> None:
        """Mount a servicer: the generated ``add_XServicer_to_server``, the servicer and the
        service's full name (``labelops.eventlog.v1.EventLogService``, for health and
        reflection). Call before ``start()``.
        """
        if self._server is not None:
            raise RuntimeError("add services before start()")
        self._services.append((add_to_server, servicer, service_name))

    @property
    def service_names(self) -> list[str]:
        """Full names of the mounted application services (without health / reflection)."""
        return [name for _, _, name in self._services]

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The per-principal limiter the interceptor charges; handlers may charge it more
        (``rate_limiter.check(principal)``, e.g. per message of a long-lived stream)."""
        return self._rate_limiter

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); raises before ``start()``."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def target(self) -> str:
        """``host:port`` a local client can dial (``localhost`` for wildcard hosts)."""
        host = "localhost" if self._host in ("[::]", "0.0.0.0", "") else self._host
        return f"{host}:{self.port}"

    async def start(self) -> int:
        """Bind, start serving and mark every service SERVING; returns the bound port."""
        if self._server is not None:
            raise RuntimeError("server already started")
        if not self._authenticator.configured:
            _log.warning(
                "no API keys or JWT secret configured: every non-health call will be rejected"
            )
        # The JWKS is fetched before the first call (in a thread: it is a blocking HTTP GET).
        await asyncio.to_thread(self._authenticator.warm)
        interceptors: list[grpc.aio.ServerInterceptor] = [
            aio_server_interceptor(tracer_provider=self._tracer_provider, filter_=_traced),
            LabelopsServerInterceptor(
                self._authenticator,
                default_timeout=self._default_timeout,
                public_methods=self._public_methods,
                method_actions=self._method_actions,
                audit=self._audit,
                service=self._service_name,
                validator=self._validator,
                rate_limiter=self._rate_limiter,
            ),
            *self._extra_interceptors,
        ]
        options = [
            *message_size_options(self._max_receive, self._max_send),
            # grpc turns SO_REUSEPORT on by default, which lets a second process bind the same
            # port silently and steal half the traffic; a port clash must fail loudly instead.
            ("grpc.so_reuseport", 0),
            *self._options,
        ]
        server = grpc.aio.server(
            interceptors=interceptors,
            options=options,
            maximum_concurrent_rpcs=self._maximum_concurrent_rpcs,
        )
        for add_to_server, servicer, _ in self._services:
            add_to_server(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        address = f"{self._host}:{self._requested_port}"
        if self._server_credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, self._server_credentials)
        # Statuses are set before start() so no probe can see an unknown service.
        await self._health.set(health.OVERALL_HEALTH, _SERVING)
        for name in self.service_names:
            await self._health.set(name, _SERVING)
        await server.start()
        self._server, self._port = server, port
        _log.info("gRPC server listening on %s:%d", self._host, port)
        return port

    async def set_serving(self, serving: bool, service: str = health.OVERALL_HEALTH) -> None:
        """Report ``service`` ("" = the whole server) as SERVING or NOT_SERVING to probes.

        For dependencies going away at runtime; ignored once ``stop()`` has begun.
        """
        await self._health.set(service, _SERVING if serving else _NOT_SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Stop gracefully: health → NOT_SERVING, refuse new calls, let in-flight calls run for
        ``grace`` seconds (default: the server's grace period), then cancel them.

        Idempotent; concurrent callers all wait for the same shutdown.
        """
        if self._server is None:
            return
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(
                self._shutdown(self._server, self._grace_period if grace is None else grace)
            )
        await asyncio.shield(self._stop_task)

    async def _shutdown(self, server: grpc.aio.Server, grace: float) -> None:
        _log.info("gRPC server stopping (grace %.1fs)", grace)
        await self._health.enter_graceful_shutdown()
        await server.stop(grace)
        _log.info("gRPC server stopped")

    async def wait(self) -> None:
        """Return when the server has terminated (after ``stop()``)."""
        if self._server is None:
            raise RuntimeError("server not started")
        await self._server.wait_for_termination()
        if self._stop_task is not None:
            await asyncio.shield(self._stop_task)

    def install_signal_handlers(
        self, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
    ) -> Callable[[], None]:
        """Make SIGTERM / SIGINT stop the server gracefully; returns a function undoing it.

        Must be called from the main thread with the server's event loop running (asyncio's
        ``add_signal_handler`` rule).
        """
        loop = asyncio.get_running_loop()
        installed = list(signals)

        def on_signal(sig: signal.Signals) -> None:
            _log.info("received %s", sig.name)
            if self._stop_task is None and self._server is not None:
                self._stop_task = loop.create_task(self._shutdown(self._server, self._grace_period))

        for sig in installed:
            loop.add_signal_handler(sig, on_signal, sig)

        def remove() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)

        return remove

    async def serve(self) -> None:
        """Start (if needed), stop on SIGTERM / SIGINT, and return once stopped."""
        if self._server is None:
            await self.start()
        remove = self.install_signal_handlers()
        try:
            await self.wait()
        finally:
            remove()

    async def __aenter__(self) -> GrpcServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

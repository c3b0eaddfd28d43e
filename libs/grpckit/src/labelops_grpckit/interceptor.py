"""The server interceptor every labelops service runs: authentication, error mapping, deadlines.

It wraps the RpcMethodHandler's behaviour for all four RPC kinds, so the same rules hold for
unary and streaming methods:

1. refuse a request that does not decode (malformed protobuf) with INVALID_ARGUMENT, reason
   ``MALFORMED_REQUEST``, before authentication and without logging a traceback: the
   request deserializer is wrapped so grpc itself never sees the DecodeError (it would answer
   INTERNAL and log "Exception deserializing request!" at ERROR);
2. authenticate (unless the method is public: health, reflection) and bind the Principal with
   ``labelops_core.context.set_principal`` for the handler, resetting it afterwards; charge
   the principal's rate limit (``ratelimit.RateLimiter``: one token per unary call, one per
   stream opened; RESOURCE_EXHAUSTED ``RATE_LIMITED`` with RetryInfo);
   with a ``method_actions`` table, check the method's action against the roles x actions
   table (``labelops_core.authz.require``): a method the table does not name is refused
   (deny by default); every command and every denial goes to the ``audit`` sink;
3. validate every request message generically (``validation.RequestValidator``: control
   characters, caps, uint64 range, unknown enums) before the handler sees it; a request
   stream is aborted with INVALID_ARGUMENT at its first bad (or undecodable) message;
4. give a unary-unary call that arrived without a deadline the server default;
5. turn exceptions into statuses: DomainError → its code + ErrorInfo/BadRequest; anything else
   → INTERNAL with a scrubbed message that names the trace id, the real error logged.

Handlers must be ``async`` (coroutines, or async generators / ``context.write`` coroutines for
response streams), as with any grpc.aio servicer; request streams must be consumed by
iterating ``request_iterator`` (not ``context.read()``) for per-message checks to apply.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc.aio import AbortError, AioRpcError
from labelops_core.audit import (
    OUTCOME_DENIED,
    OUTCOME_FAILED,
    OUTCOME_OK,
    OUTCOME_UNAUTHENTICATED,
    AuditRecord,
    AuditSink,
)
from labelops_core.authz import Action, require
from labelops_core.context import Principal, reset_principal, set_principal
from labelops_core.errors import (
    DomainError,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from labelops_telemetry.propagation import current_trace_id
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from labelops_grpckit.auth import Authenticator
from labelops_grpckit.errors import rich_status, status_for
from labelops_grpckit.ratelimit import RateLimiter
from labelops_grpckit.validation import RequestValidator

_log = logging.getLogger(__name__)

#: Methods reachable without credentials: Kubernetes probes and ``grpcurl list`` / describe.
PUBLIC_METHOD_PREFIXES: tuple[str, ...] = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

#: ErrorInfo reason of a request whose bytes are not the method's request message.
REASON_MALFORMED_REQUEST = "MALFORMED_REQUEST"

#: ErrorInfo reason of a method the service's action table does not name.
REASON_METHOD_NOT_MAPPED = "METHOD_NOT_ALLOWED"

#: Server-side deadline for unary calls whose client set none.
DEFAULT_UNARY_TIMEOUT_S = 30.0

INTERNAL_REASON = "INTERNAL"
DEADLINE_REASON = "DEADLINE_EXCEEDED"
DEPENDENCY_UNAVAILABLE_REASON = "DEPENDENCY_UNAVAILABLE"

# Downstream failures worth passing on as "retry later" rather than as our own bug.
_TRANSIENT_DOWNSTREAM = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


class _Gate:
    """What the interceptor learned about a call, for its audit record."""

    __slots__ = ("action", "error", "method", "per_message", "principal")

    def __init__(self, method: str, action: Action | None) -> None:
        self.method = method
        self.principal: Principal | None = None
        self.action = action
        # The error a request stream was aborted with (the handler then sees AbortError).
        self.error: DomainError | None = None
        # The handler answers a bad streamed message itself (``per_message_errors``).
        self.per_message = False


_PER_MESSAGE = "__labelops_per_message_errors__"
F = TypeVar("F", bound=Callable[..., Any])


def per_message_errors(handler: F) -> F:
    """Mark a request-streaming handler that answers a bad message on the stream and goes on.

    Without the mark the first undecodable or invalid message aborts the stream with
    INVALID_ARGUMENT. With it, that message reaches the handler as a ``RejectedMessage`` (the
    error, with its field violations) in its place, and the handler must answer it (and never
    act on it): the stream stays open for the messages after it.
    """
    setattr(handler, _PER_MESSAGE, True)
    return handler


@dataclass(frozen=True)
class RejectedMessage:
    """A streamed request message the validator refused, in the place of that message.

    ``message``: the decoded message when it decoded (its fields may hold the hostile values
    the error names), None when its bytes were not the method's protobuf.
    """

    error: InvalidArgument
    message: Message | None = None


class _Malformed:
    """Stands in for a request message that failed to decode."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _safe_deserializer(
    deserializer: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # DecodeError, or anything a custom deserializer raises
            return _Malformed(exc)

    return deserialize


def _malformed() -> InvalidArgument:
    return InvalidArgument(
        "the request is not a valid message for this method",
        [FieldViolation("request", "could not be decoded")],
        reason=REASON_MALFORMED_REQUEST,
    )


class _DefaultDeadlineExceeded(Exception):
    """The server's default deadline for a deadline-less unary call ran out."""


def is_public_method(method: str, extra_public: Iterable[str] = ()) -> bool:
    """True when ``method`` (``/pkg.Service/Method``) needs no credentials."""
    return method.startswith(PUBLIC_METHOD_PREFIXES) or method in set(extra_public)


class LabelopsServerInterceptor(grpc.aio.ServerInterceptor):
    """Authentication + principal binding, error mapping and default deadlines for grpc.aio.

    Args:
        authenticator: resolves credentials to a Principal.
        default_timeout: seconds a unary-unary call without a client deadline may run before it
            fails with DEADLINE_EXCEEDED; None disables. Streams are exempt: they are
            long-lived by design (subscriptions, uploads).
        public_methods: full method names (``/pkg.Service/Method``) that, like health and
            reflection, need no credentials.
        method_actions: full method name → the Action it needs; when given, a method it does
            not name is refused with PERMISSION_DENIED. None: no table (handlers check).
        audit: where commands and denials are recorded; None: not recorded.
        service: the service name audit records carry.
        validator: checks every request message before its handler; None: no generic checks
            (decode errors are still refused).
        rate_limiter: charged one token per authenticated call / stream opened; None: off.
    """

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        default_timeout: float | None = DEFAULT_UNARY_TIMEOUT_S,
        public_methods: Iterable[str] = (),
        method_actions: Mapping[str, Action] | None = None,
        audit: AuditSink | None = None,
        service: str = "",
        validator: RequestValidator | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._default_timeout = default_timeout
        self._public_methods = frozenset(public_methods)
        self._method_actions = method_actions
        self._audit = audit
        self._service = service
        self._validator = validator
        self._rate_limiter = rate_limiter

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """Wrap the resolved handler; unknown methods stay None (grpc answers UNIMPLEMENTED)."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        public = is_public_method(method, self._public_methods)
        deserializer = _safe_deserializer(handler.request_deserializer)
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(
                self._stream_response(handler.stream_stream, method, public, streaming=True),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(
                self._unary_response(
                    handler.stream_unary, method, public, deadline=False, streaming=True
                ),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(
                self._stream_response(handler.unary_stream, method, public, streaming=False),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.unary_unary_rpc_method_handler(
            self._unary_response(
                handler.unary_unary, method, public, deadline=True, streaming=False
            ),
            request_deserializer=deserializer,
            response_serializer=handler.response_serializer,
        )

    def _unary_response(
        self, behavior: Behavior, method: str, public: bool, *, deadline: bool, streaming: bool
    ) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]:
        # Must be a coroutine function: grpc.aio runs anything else in its thread pool.
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = None
            gate = self._gate(method)
            gate.per_message = bool(getattr(behavior, _PER_MESSAGE, False))
            try:
                request, token = await self._enter(request, context, gate, public, streaming)
                timeout = self._default_timeout if deadline else None
                if timeout is not None and context.time_remaining() is None:
                    result = await _with_timeout(behavior, request, context, timeout)
                else:
                    result = behavior(request, context)
                    result = await result if inspect.isawaitable(result) else result
                self._record(gate, None)
                return result
            except AbortError:
                self._record(gate, gate.error or "ABORTED")
                raise
            except Exception as exc:
                self._record(gate, exc)
                await self._abort(context, method, exc)
                raise
            finally:
                _reset(token)

        return handle

    def _stream_response(
        self, behavior: Behavior, method: str, public: bool, *, streaming: bool
    ) -> Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]:
        # An async generator works for both handler styles: it re-yields an async generator's
        # messages and simply awaits a coroutine that writes with context.write().
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            token = None
            gate = self._gate(method)
            gate.per_message = bool(getattr(behavior, _PER_MESSAGE, False))
            try:
                request, token = await self._enter(request, context, gate, public, streaming)
                result = behavior(request, context)
                if inspect.isawaitable(result):
                    result = await result
                if result is not None:
                    if not hasattr(result, "__aiter__"):
                        raise TypeError(f"streaming handler of {method} must be async")
                    async for message in result:
                        yield message
                self._record(gate, None)
            except AbortError:
                self._record(gate, gate.error or "ABORTED")
                raise
            except Exception as exc:
                self._record(gate, exc)
                await self._abort(context, method, exc)
                raise
            finally:
                _reset(token)

        return handle

    def _gate(self, method: str) -> _Gate:
        table = self._method_actions
        return _Gate(method, None if table is None else table.get(method))

    async def _enter(
        self,
        request: Any,
        context: grpc.aio.ServicerContext,
        gate: _Gate,
        public: bool,
        streaming: bool,
    ) -> tuple[Any, contextvars.Token[Principal | None] | None]:
        """Everything before the handler: decode check, admission, validation.

        Returns the request (a checking iterator for request streams) and the principal
        binding to reset afterwards.
        """
        if not streaming and isinstance(request, _Malformed):
            raise _malformed()
        token = None
        if not public:
            token = set_principal(await self._admit(context, gate))
        try:
            if streaming:
                return self._checked(request, context, gate), token
            if self._validator is not None and isinstance(request, Message):
                self._validator.validate(request)
        except BaseException:
            _reset(token)
            raise
        return request, token

    async def _checked(
        self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext, gate: _Gate
    ) -> AsyncIterator[Any]:
        # A bad message aborts the stream right here: the handler cannot swallow the error
        # and carry on, whatever it catches.
        validator = self._validator
        async for message in requests:
            try:
                if isinstance(message, _Malformed):
                    raise _malformed()
                if validator is not None and isinstance(message, Message):
                    validator.validate(message)
            except InvalidArgument as exc:
                if gate.per_message:
                    yield RejectedMessage(exc, message if isinstance(message, Message) else None)
                    continue
                gate.error = exc
                await self._abort(context, gate.method, exc)
                raise
            yield message

    async def _admit(self, context: grpc.aio.ServicerContext, gate: _Gate) -> Principal:
        """Authenticate, charge the rate limit, then check the method's action; fills ``gate``
        for the audit record."""
        principal = await self._authenticate(context)
        gate.principal = principal
        if self._rate_limiter is not None:
            self._rate_limiter.check(principal)
        if self._method_actions is None:
            return principal
        action = self._method_actions.get(gate.method)
        if action is None:
            raise PermissionDenied(
                f"{gate.method} is not open to any role", reason=REASON_METHOD_NOT_MAPPED
            )
        gate.action = action
        require(action, principal=principal)
        return principal

    def _record(self, gate: _Gate, exc: BaseException | str | None) -> None:
        """Give the audit sink the call's outcome: every denial, every command (not reads)."""
        if self._audit is None:
            return
        if isinstance(exc, Unauthenticated):
            outcome, code, reason = OUTCOME_UNAUTHENTICATED, "UNAUTHENTICATED", exc.reason
        elif isinstance(exc, PermissionDenied):
            outcome, code, reason = OUTCOME_DENIED, "PERMISSION_DENIED", exc.reason
        elif exc is None:
            if gate.action is None or gate.action.value.endswith(".read"):
                return
            outcome, code, reason = OUTCOME_OK, "OK", ""
        elif isinstance(exc, DomainError):
            if gate.action is not None and gate.action.value.endswith(".read"):
                if exc.code.name != "NOT_FOUND":
                    return
            outcome, code, reason = OUTCOME_FAILED, exc.code.name, exc.reason
        else:
            if gate.action is not None and gate.action.value.endswith(".read"):
                return
            code = exc if isinstance(exc, str) else "INTERNAL"
            outcome, reason = OUTCOME_FAILED, ""
        p = gate.principal
        try:
            self._audit.record(
                AuditRecord(
                    tenant_id=p.tenant_id if p else "",
                    actor_kind=p.kind if p else "",
                    actor_id=p.subject if p else "",
                    service=self._service,
                    method=gate.method,
                    action=gate.action.value if gate.action else "",
                    outcome=outcome,
                    code=code,
                    reason=reason,
                    trace_id=current_trace_id() or "",
                )
            )
        except Exception:  # the audit sink must never fail the call
            _log.exception("audit sink failed for %s", gate.method)

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> Principal:
        principal = await self._authenticator.authenticate_async(context.invocation_metadata())
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("enduser.id", principal.subject)
            span.set_attribute("labelops.tenant_id", principal.tenant_id)
        return principal

    async def _abort(self, context: grpc.aio.ServicerContext, method: str, exc: Exception) -> None:
        """Abort the call with the status ``exc`` maps to (raises AbortError).

        Returns without aborting only when a status was already sent, in which case the caller
        re-raises ``exc`` for grpc to log.
        """
        if isinstance(exc, DomainError):
            status = status_for(exc)
        elif isinstance(exc, _DefaultDeadlineExceeded):
            status = rich_status(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "server deadline exceeded (the call set no deadline of its own)",
                reason=DEADLINE_REASON,
            )
        elif isinstance(exc, AioRpcError) and exc.code() in _TRANSIENT_DOWNSTREAM:
            _log.warning(
                "%s: a downstream call failed with %s", method, exc.code().name, exc_info=exc
            )
            status = rich_status(
                grpc.StatusCode.UNAVAILABLE,
                "a dependency is unavailable; retry later",
                reason=DEPENDENCY_UNAVAILABLE_REASON,
            )
        else:
            status = self._internal_status(method, exc)
        if context.done():
            return
        await context.abort(status.code, status.details, status.trailing_metadata)

    def _internal_status(self, method: str, exc: Exception) -> grpc.Status:
        # The caller gets an id to quote, never the exception text (it may hold SQL, paths,
        # secrets). The trace id finds the log line and the trace; without tracing, a fresh id
        # that only the log line carries.
        trace_id = current_trace_id()
        if trace_id:
            ref_key, ref = "trace_id", trace_id
        else:
            ref_key, ref = "error_id", uuid.uuid4().hex
        _log.error(
            "unhandled %s in %s (%s=%s)",
            type(exc).__name__,
            method,
            ref_key,
            ref,
            exc_info=exc,
            extra={"grpc_method": method, ref_key: ref},
        )
        span = trace.get_current_span()
        if span.is_recording():
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, "internal error"))
        return rich_status(
            grpc.StatusCode.INTERNAL,
            f"internal error ({ref_key}={ref})",
            reason=INTERNAL_REASON,
            metadata={ref_key: ref},
        )


async def _with_timeout(
    behavior: Behavior, request: Any, context: grpc.aio.ServicerContext, timeout: float
) -> Any:
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result
    except TimeoutError:
        # Only our own expiry is a deadline; a TimeoutError the handler let escape is a bug.
        if scope.expired():
            raise _DefaultDeadlineExceeded from None
        raise


def _reset(token: contextvars.Token[Principal | None] | None) -> None:
    if token is None:
        return
    try:
        reset_principal(token)
    except ValueError:
        # A response stream abandoned mid-way may be finalised from another context; the
        # binding died with the RPC's task anyway.
        pass

"""labelops grpckit: the grpc.aio server kit and client channel every service uses."""

from labelops_grpckit.auth import (
    API_KEY_HEADER,
    AUTHORIZATION_HEADER,
    Authenticator,
    KeySource,
    principal_from_fields,
)
from labelops_grpckit.client import DEFAULT_CLIENT_TIMEOUT_S, channel, client_interceptors
from labelops_grpckit.errors import (
    ERROR_DOMAIN,
    ErrorDetails,
    error_details,
    error_info,
    grpc_code,
    retry_delay,
    rich_status,
    status_for,
    status_proto,
)
from labelops_grpckit.interceptor import (
    DEFAULT_UNARY_TIMEOUT_S,
    PUBLIC_METHOD_PREFIXES,
    LabelopsServerInterceptor,
    RejectedMessage,
    is_public_method,
    per_message_errors,
)
from labelops_grpckit.options import DEFAULT_MAX_MESSAGE_BYTES, message_size_options
from labelops_grpckit.ratelimit import RateLimit, RateLimited, RateLimiter
from labelops_grpckit.runtime import ServiceRuntime, Worker
from labelops_grpckit.server import DEFAULT_GRACE_PERIOD_S, GrpcServer
from labelops_grpckit.validation import RequestLimits, RequestValidator

__all__ = [
    "API_KEY_HEADER",
    "AUTHORIZATION_HEADER",
    "DEFAULT_CLIENT_TIMEOUT_S",
    "DEFAULT_GRACE_PERIOD_S",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_UNARY_TIMEOUT_S",
    "ERROR_DOMAIN",
    "PUBLIC_METHOD_PREFIXES",
    "Authenticator",
    "ErrorDetails",
    "GrpcServer",
    "KeySource",
    "LabelopsServerInterceptor",
    "RateLimit",
    "RateLimited",
    "RateLimiter",
    "RejectedMessage",
    "RequestLimits",
    "RequestValidator",
    "ServiceRuntime",
    "Worker",
    "channel",
    "client_interceptors",
    "error_details",
    "error_info",
    "grpc_code",
    "is_public_method",
    "message_size_options",
    "per_message_errors",
    "principal_from_fields",
    "retry_delay",
    "rich_status",
    "status_for",
    "status_proto",
]

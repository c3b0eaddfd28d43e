"""The caller's credential, from HTTP headers to gRPC metadata.

Accepted: ``x-api-key: <key>``, ``Authorization: Bearer <JWT>``, and — because browser tools and
HTTP clients put any token in ``Authorization`` — ``Authorization: Bearer <api key>``. A bearer
value shaped like a JWT (three base64url segments) is forwarded as ``authorization``, anything
else as ``x-api-key``: the services accept API keys only in ``x-api-key``.

The gateway decides nothing here: it forwards what it got, the service authenticates (no
credential, a bad one or two of them → UNAUTHENTICATED → 401), exactly as for a gRPC client
using ``labelops_grpckit.channel(api_key=...)``.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from labelops_core.authz import require_role
from labelops_core.context import Principal, reset_principal, set_principal
from labelops_core.errors import Unauthenticated
from labelops_grpckit import API_KEY_HEADER, AUTHORIZATION_HEADER, Authenticator

_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

# Declared for OpenAPI (the "Authorize" button, schemathesis) only; never reject by themselves.
api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey")
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="Bearer")

Metadata = tuple[tuple[str, str], ...]


def metadata_from_headers(request: Request) -> Metadata:
    """gRPC metadata carrying the request's credential(s), as the services expect them."""
    out: list[tuple[str, str]] = []
    for name, value in request.headers.items():
        if name not in (API_KEY_HEADER, AUTHORIZATION_HEADER):
            continue
        # Starlette decodes header bytes as latin-1; gRPC metadata values must be printable
        # ASCII (grpc refuses to send others), and no credential has other characters.
        if not value.isascii() or not value.isprintable():
            raise Unauthenticated(
                f"{name} holds characters no credential has", reason="CREDENTIALS_INVALID"
            )
        if name == API_KEY_HEADER:
            out.append((API_KEY_HEADER, value.strip()))
        elif name == AUTHORIZATION_HEADER:
            scheme, _, token = value.strip().partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token and not _JWT.fullmatch(token):
                out.append((API_KEY_HEADER, token))
            else:
                out.append((AUTHORIZATION_HEADER, value.strip()))
    return tuple(out)


async def credentials(
    request: Request,
    _api_key: Annotated[str | None, Depends(api_key_scheme)] = None,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Metadata:
    """FastAPI dependency: the metadata to call the services with."""
    return metadata_from_headers(request)


Creds = Annotated[Metadata, Depends(credentials)]


def authenticate(authenticator: Authenticator, metadata: Metadata) -> Principal:
    """The principal of the forwarded credential, for what the gateway serves itself (the event
    stream); Unauthenticated as a service would raise it."""
    return authenticator.authenticate(metadata)


def require_internal(principal: Principal) -> None:
    """The event stream shows every project's work: not for vendor workforces, who only see the
    tasks routed to them. The services' rule (``require_role`` with no role named: any caller
    but a vendor), applied to the principal the gateway authenticated itself."""
    token = set_principal(principal)
    try:
        require_role(action="read the event stream", reason="EVENTS_INTERNAL_ONLY")
    finally:
        reset_principal(token)

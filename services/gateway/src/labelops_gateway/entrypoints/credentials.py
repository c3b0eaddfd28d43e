"""The caller's credential, from HTTP headers or the session cookie to gRPC metadata.

Accepted: ``x-api-key: <key>``, ``Authorization: Bearer <JWT>``, ``Authorization: Bearer <api
key>`` (browser tools and HTTP clients put any token in ``Authorization``), and the HttpOnly
session cookie set by ``POST /v1/session`` (``session.py``), used only when the request has no
credential header. A bearer or cookie value shaped like a JWT (three base64url segments) is
forwarded as ``authorization``, anything else as ``x-api-key``: the services accept API keys
only in ``x-api-key``.

Never in a URL: a query parameter lands in access logs, proxies and browser history (the
dashboard's old ``?key=`` did).

The gateway authenticates the credential itself (``access.authorize``: route table, rate
limit) and forwards it unchanged, so every service sees the real caller and applies its own
tenant scoping and roles: the gateway has no key of its own to act for anyone.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from labelops_core.context import Principal
from labelops_core.errors import Unauthenticated
from labelops_grpckit import API_KEY_HEADER, AUTHORIZATION_HEADER, Authenticator

from ..config import Settings

_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

#: The session cookie's default name (``Settings.session_cookie_name``).
SESSION_COOKIE = "labelops_session"

# Declared for OpenAPI (the "Authorize" button, schemathesis) only; never reject by themselves.
api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey")
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="Bearer")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="SessionCookie")

Metadata = tuple[tuple[str, str], ...]


def printable(name: str, value: str) -> str:
    """``value`` stripped, if printable ASCII (every credential is); else Unauthenticated."""
    # Starlette decodes header bytes as latin-1; gRPC metadata values must be printable
    # ASCII (grpc refuses to send others), and no credential has other characters.
    if not value.isascii() or not value.isprintable():
        raise Unauthenticated(
            f"{name} holds characters no credential has", reason="CREDENTIALS_INVALID"
        )
    return value.strip()


def token_metadata(token: str) -> tuple[str, str]:
    """The metadata entry carrying a bare token: a JWT as a bearer token, else an API key."""
    if _JWT.fullmatch(token):
        return (AUTHORIZATION_HEADER, f"Bearer {token}")
    return (API_KEY_HEADER, token)


def metadata_from_headers(request: Request) -> Metadata:
    """gRPC metadata carrying the request's header credential(s), as the services expect."""
    out: list[tuple[str, str]] = []
    for name, value in request.headers.items():
        if name not in (API_KEY_HEADER, AUTHORIZATION_HEADER):
            continue
        value = printable(name, value)
        if name == API_KEY_HEADER:
            out.append((API_KEY_HEADER, value))
        else:
            scheme, _, token = value.partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token and not _JWT.fullmatch(token):
                out.append((API_KEY_HEADER, token))
            else:
                out.append((AUTHORIZATION_HEADER, value))
    return tuple(out)


def metadata_of_request(request: Request, cookie_name: str = SESSION_COOKIE) -> Metadata:
    """The header credential(s); without any, the session cookie's; else nothing."""
    headers = metadata_from_headers(request)
    if headers:
        return headers
    cookie = request.cookies.get(cookie_name, "")
    cookie = printable("the session cookie", cookie) if cookie else ""
    return (token_metadata(cookie),) if cookie else ()


async def credentials(
    request: Request,
    _api_key: Annotated[str | None, Depends(api_key_scheme)] = None,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
    _cookie: Annotated[str | None, Depends(cookie_scheme)] = None,
) -> Metadata:
    """FastAPI dependency: the metadata to call the services with."""
    settings: Settings = request.app.state.settings
    return metadata_of_request(request, settings.session_cookie_name)


Creds = Annotated[Metadata, Depends(credentials)]


async def authenticate(authenticator: Authenticator, metadata: Metadata) -> Principal:
    """The principal of the forwarded credential; Unauthenticated as a service would raise it
    (no credential, a bad one, or two of them). Async: a JWKS fetch runs off the event loop."""
    return await authenticator.authenticate_async(metadata)

"""``POST /v1/session`` (log in: a key → the session cookie) and ``DELETE /v1/session``.

For browsers (the dashboard): a page cannot be given a key in its URL (it would land in access
logs, proxies and history) and should not keep one where its scripts can read it. The login
endpoint authenticates the posted credential (an API key or a JWT) and sets it as a cookie that
is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it: no
CSRF) and ``Secure`` when the request came over https (or always, ``session_cookie_secure``).
The cookie carries the credential itself, so every gateway replica accepts it and it expires
or is revoked exactly when the credential is; the gateway keeps no session state.

Attempts are rate limited per client address (``login_rate_per_s`` / ``login_burst``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from labelops_core.authz import principal_roles
from labelops_core.context import Principal
from labelops_core.errors import DomainError
from labelops_grpckit import Authenticator, RateLimiter
from pydantic import BaseModel, Field

from ..config import Settings
from .access import audit_refusal
from .credentials import authenticate, printable, token_metadata
from .errors import RateLimited

router = APIRouter(tags=["session"])


class Login(BaseModel):
    """The credential to log in with."""

    api_key: Annotated[str, Field(min_length=1, max_length=8192, description="an API key or a JWT")]


def _secure(request: Request, settings: Settings) -> bool:
    return settings.session_cookie_secure or request.url.scheme == "https"


@router.post(
    "/v1/session",
    summary="Log in: authenticate a key and set it as the HttpOnly session cookie",
    responses={200: {"description": "who the key is"}, 401: {"description": "a bad key"}},
)
async def login(request: Request, body: Login) -> JSONResponse:
    settings: Settings = request.app.state.settings
    limiter: RateLimiter | None = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    # The bucket of a client address (no principal yet): a tenant no credential carries.
    wait = limiter.take(Principal(subject=client, tenant_id="")) if limiter is not None else 0.0
    if wait > 0:
        raise RateLimited("too many login attempts", retry_after_s=wait)
    token = body.api_key.strip()
    authenticator: Authenticator = request.app.state.authenticator
    # Same checks as a header credential (printable ASCII), then the authenticator's.
    try:
        principal = await authenticate(
            authenticator, (token_metadata(printable("api_key", token)),)
        )
    except DomainError as exc:
        audit_refusal(request, None, None, exc)
        raise
    response = JSONResponse(
        {
            "subject": principal.subject,
            "tenant_id": principal.tenant_id,
            "kind": principal.kind,
            "roles": sorted(principal_roles(principal)),
        }
    )
    response.set_cookie(
        settings.session_cookie_name,
        token,
        max_age=settings.session_cookie_max_age_s,
        path="/",
        httponly=True,
        secure=_secure(request, settings),
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.delete("/v1/session", summary="Log out: clear the session cookie", status_code=204)
async def logout(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    response = Response(status_code=204)
    response.delete_cookie(
        settings.session_cookie_name,
        path="/",
        httponly=True,
        secure=_secure(request, settings),
        samesite="strict",
    )
    return response

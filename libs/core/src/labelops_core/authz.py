"""Role checks at the top of a handler: one ``require_role`` for every service.

A handler names who may run it; the caller comes from the request context
(``labelops_core.context``), which the gRPC server kit binds after authentication::

    require_role("manager", action="manage routing", reason="ROUTING_ADMIN_REQUIRED")

The rules, the same everywhere:

- no principal (no authenticator configured: embedded use, unit wiring) → allowed;
- a vendor workforce principal → denied unless ``allow_vendor`` (vendors only work their tasks);
- no ``roles`` named → any non-vendor principal;
- otherwise the principal needs one of ``roles`` (``admin`` counts as every role), or is a
  ``service`` principal while ``allow_service`` holds (tools acting for a team).
"""

from __future__ import annotations

from .context import Principal, current_principal
from .errors import PermissionDenied


def require_role(
    *roles: str,
    action: str,
    reason: str,
    allow_service: bool = True,
    allow_vendor: bool = False,
) -> Principal | None:
    """Raise PERMISSION_DENIED (``reason``) unless the current caller may ``action``.

    Returns the principal (None without an authenticator) so the handler can record who acted.
    """
    p = current_principal()
    if p is None:
        return None
    if p.kind == "vendor" and not allow_vendor:
        raise PermissionDenied(f"vendor {p.subject} may not {action}", reason=reason)
    if not roles or p.kind == "vendor":
        return p
    if any(p.has_role(r) for r in roles) or (allow_service and p.kind == "service"):
        return p
    raise PermissionDenied(f"{p.kind} {p.subject} may not {action}", reason=reason)

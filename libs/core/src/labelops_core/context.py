"""Per-request context (who is calling) carried in a contextvar across awaits."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    ``kind`` is one of "user", "vendor", "model", "service" (the envelope's actor kinds);
    ``vendor_id`` is set for vendor workforce callers, who only see their own work.
    """

    subject: str
    tenant_id: str
    kind: str = "user"
    roles: frozenset[str] = field(default_factory=frozenset)
    vendor_id: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


_current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "labelops_principal", default=None
)


def current_principal() -> Principal | None:
    """The principal of the request being served, or None outside a request."""
    return _current_principal.get()


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    """Bind ``principal`` for the current task; returns a token for ``reset_principal``."""
    return _current_principal.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current_principal.reset(token)


#: The tenant of calls made without an authenticator (embedded use, unit wiring).
DEFAULT_TENANT = "default"


def current_tenant() -> str:
    """The tenant of the request (or of the event) being handled; ``DEFAULT_TENANT`` when no
    principal is bound. Repositories take it explicitly: this is where handlers get it."""
    p = _current_principal.get()
    return p.tenant_id if p is not None else DEFAULT_TENANT


def principal_of_envelope(tenant_id: str, actor_kind: str, actor_id: str) -> Principal:
    """The principal an event's handler acts as: the event's tenant and causing actor, so the
    events it derives carry both (the bus runner binds it around each handler)."""
    return Principal(
        subject=actor_id or "system",
        tenant_id=tenant_id or DEFAULT_TENANT,
        kind=actor_kind or "service",
        roles=frozenset(),
    )

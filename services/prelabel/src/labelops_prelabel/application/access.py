"""Who may use the prelabel service (``labelops_core.authz.require_role``).

Models, priorities and ROI are for the organisation's people and services: a vendor is refused
everything (``VENDOR_NOT_ALLOWED``). Registering models, training and switching pre-labels
also need the manager role or a service principal (``PRELABEL_ADMIN_REQUIRED``).
"""

from __future__ import annotations

from labelops_core.authz import require_role
from labelops_core.context import Principal


def require_reader() -> None:
    require_role(action="use the prelabel service", reason="VENDOR_NOT_ALLOWED")


def require_manager() -> Principal | None:
    """The manager (or service) acting; None without an authenticator."""
    require_reader()
    return require_role("manager", action="manage pre-labeling", reason="PRELABEL_ADMIN_REQUIRED")


def actor(p: Principal | None) -> str:
    """Who an operator's change is recorded as."""
    return p.subject if p is not None else "operator"

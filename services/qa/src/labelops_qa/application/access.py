"""Who may review and run QA."""

from __future__ import annotations

from labelops_core.authz import require_role
from labelops_core.context import Principal


def require_reviewer() -> Principal | None:
    """PERMISSION_DENIED ``QA_REVIEWER_REQUIRED`` unless the caller is a reviewer or a manager:
    vendors never, service principals only with one of those roles. Returns the caller (None
    without an authenticator)."""
    return require_role(
        "reviewer",
        "manager",
        action="review or run QA",
        reason="QA_REVIEWER_REQUIRED",
        allow_service=False,
    )

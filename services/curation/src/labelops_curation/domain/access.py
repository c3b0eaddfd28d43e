"""Who may change curation data (a pure rule; the handlers call it first, before any I/O)."""

from __future__ import annotations

from typing import Final

from labelops_core.context import Principal
from labelops_core.errors import PermissionDenied

#: Principal kinds that may run commands (vendor and model credentials only read).
WRITER_KINDS: Final = frozenset({"user", "service"})


def check_writer(principal: Principal | None) -> None:
    """PERMISSION_DENIED ``CURATION_WRITE_DENIED`` unless ``principal`` may change curation data
    (no principal: no authenticator configured, embedded use → allowed).

    Not ``labelops_core.authz.require_role``: that one lets ``model`` principals through, and
    this service never asked for a role, only for the kind of credentials.
    """
    if principal is not None and principal.kind not in WRITER_KINDS:
        raise PermissionDenied(
            f"{principal.kind} credentials may not change curation data",
            reason="CURATION_WRITE_DENIED",
            metadata={"kind": principal.kind},
        )

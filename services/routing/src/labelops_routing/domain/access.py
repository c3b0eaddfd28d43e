"""Who may work which pool and which assignment (WorkforceService).

A vendor principal (API key with ``vendor_id``) works only pools whose vendor id is its own and
only assignments leased through them; anything else is PERMISSION_DENIED, without saying
whether the other vendor's pool or task exists. Users work in-house pools; managers (admin
counts) and services may work any pool (tools acting for a team). No principal (no
authenticator configured: embedded use) may do anything.

Each function takes the caller explicitly (the application passes the request's principal),
so the rules are tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable

from labelops_core.context import Principal
from labelops_core.errors import DomainError, NotFound, PermissionDenied


def vendor_of(p: Principal | None) -> str | None:
    """The vendor a caller works for, or None for anyone else."""
    return p.vendor_id if p is not None and p.kind == "vendor" else None


def check_pool_access(p: Principal | None, pool_id: str, kind: str, vendor_id: str) -> None:
    """Raise PERMISSION_DENIED ``POOL_NOT_YOURS`` unless the caller may claim from the pool
    (``kind`` "in_house" or "vendor", ``vendor_id`` the pool's)."""
    if p is None:
        return
    if p.kind == "vendor":
        if kind != "vendor" or vendor_id != p.vendor_id:
            raise PermissionDenied(
                f"pool {pool_id} is not worked by vendor {p.vendor_id}", reason="POOL_NOT_YOURS"
            )
    elif kind == "vendor" and not (p.has_role("manager") or p.kind == "service"):
        raise PermissionDenied(f"pool {pool_id} belongs to a vendor", reason="POOL_NOT_YOURS")


def missing_pool(p: Principal | None, pool_id: str) -> DomainError:
    """What a claim on a pool that does not exist answers: a vendor learns nothing."""
    if (vendor := vendor_of(p)) is not None:
        return PermissionDenied(
            f"pool {pool_id} is not worked by vendor {vendor}", reason="POOL_NOT_YOURS"
        )
    return NotFound(f"pool {pool_id} not found", reason="POOL_NOT_FOUND")


def check_assignment_access(p: Principal | None, assignment_id: object, vendor_id: str) -> None:
    """Raise PERMISSION_DENIED ``NOT_YOUR_TASK`` when a vendor acts on an assignment leased
    through another vendor's pool (``vendor_id`` of the assignment; "" = in-house)."""
    vendor = vendor_of(p)
    if vendor is not None and vendor_id != vendor:
        # Same answer whether the assignment exists or not: a vendor learns nothing about
        # another vendor's work.
        raise PermissionDenied(
            f"assignment {assignment_id} is not leased to vendor {vendor}",
            reason="NOT_YOUR_TASK",
        )


def check_assignments_found(p: Principal | None, wanted: Iterable[object], found: int) -> None:
    """A heartbeat naming assignments that do not exist: a vendor is refused (they may be
    another vendor's), anyone else gets inactive leases back."""
    if vendor_of(p) is not None and found < len(set(wanted)):
        raise PermissionDenied("some assignments are not leased to you", reason="NOT_YOUR_TASK")


def missing_assignment(p: Principal | None, assignment_id: object) -> DomainError:
    """What a skip of an assignment that does not exist answers."""
    if vendor_of(p) is not None:
        return PermissionDenied("assignment not leased to you", reason="NOT_YOUR_TASK")
    return NotFound(f"assignment {assignment_id} not found", reason="ASSIGNMENT_NOT_FOUND")


def missing_submission(p: Principal | None, index: int, assignment_id: object) -> DomainError:
    """What a label batch naming an assignment that does not exist answers (the batch is
    refused whole; ``submission_index`` tells which)."""
    meta = {"submission_index": str(index)}
    if (vendor := vendor_of(p)) is not None:
        return PermissionDenied(
            f"submissions[{index}]: assignment not leased to vendor {vendor}",
            reason="NOT_YOUR_TASK",
            metadata=meta,
        )
    return NotFound(
        f"submissions[{index}]: assignment {assignment_id} not found",
        reason="ASSIGNMENT_NOT_FOUND",
        metadata=meta,
    )

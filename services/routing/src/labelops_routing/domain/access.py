"""Who may work which pool and which assignment (WorkforceService), and who sees what
(RoutingService reads): the resource rules the method -> action table cannot express.

- A **vendor** principal (``kind`` vendor, with ``vendor_id``) works only pools whose vendor id
  is its own and only assignments leased through them; anything else is PERMISSION_DENIED
  ``POOL_NOT_YOURS`` / ``NOT_YOUR_TASK``, the same answer whether the other vendor's pool or
  task exists or not. Its reads show only its pools, their annotators and their tasks.
- Nobody else works a vendor's pool or acts on a vendor's assignment: attribution of a
  vendor's work must stay the vendor's. A non-vendor naming a vendor's assignment is answered
  as if it did not exist (NOT_FOUND ``ASSIGNMENT_NOT_FOUND``; an inactive lease in a
  heartbeat): the same answer as a missing one.
- An **annotator** principal (a user without the admin row) claims, heartbeats, skips and
  submits only as itself: the annotator id it names (or that holds the assignment) must be its
  subject, otherwise PERMISSION_DENIED ``ANNOTATOR_MISMATCH``. Admins may act for any
  in-house annotator (tools run by the team lead).
- Gold flags and gold answers are shown only to principals with ``gold.read``
  (``can_see_gold``).
- No principal (no authenticator configured: embedded use) may do anything.

Each function takes the caller explicitly (the application passes the request's principal),
so the rules are tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable

from labelops_core.authz import Action, can, principal_roles
from labelops_core.context import Principal
from labelops_core.errors import DomainError, NotFound, PermissionDenied


def vendor_of(p: Principal | None) -> str | None:
    """The vendor a caller works for, or None for anyone else."""
    return p.vendor_id if p is not None and p.kind == "vendor" else None


def can_see_gold(p: Principal | None) -> bool:
    """Whether reads may show ``gold`` flags and gold answers to the caller."""
    return can(p, Action.GOLD_READ)


def acts_only_as_itself(p: Principal | None) -> bool:
    """A person who works as one annotator: a user principal without the admin row."""
    return p is not None and p.kind == "user" and "admin" not in principal_roles(p)


def check_annotator(p: Principal | None, annotator_id: str) -> None:
    """Raise PERMISSION_DENIED ``ANNOTATOR_MISMATCH`` when an annotator principal names
    another annotator."""
    if p is not None and acts_only_as_itself(p) and annotator_id != p.subject:
        raise PermissionDenied(
            f"{p.subject} may act only as annotator {p.subject}, not {annotator_id}",
            reason="ANNOTATOR_MISMATCH",
        )


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
    elif kind == "vendor":
        raise PermissionDenied(f"pool {pool_id} belongs to a vendor", reason="POOL_NOT_YOURS")


def missing_pool(p: Principal | None, pool_id: str) -> DomainError:
    """What a claim on a pool that does not exist answers: a vendor learns nothing."""
    if (vendor := vendor_of(p)) is not None:
        return PermissionDenied(
            f"pool {pool_id} is not worked by vendor {vendor}", reason="POOL_NOT_YOURS"
        )
    return NotFound(f"pool {pool_id} not found", reason="POOL_NOT_FOUND")


def assignment_refusal(
    p: Principal | None, assignment_id: object, vendor_id: str, annotator_id: str
) -> DomainError | None:
    """Why the caller may not act on an assignment leased through a pool of ``vendor_id``
    ("" = in-house) to ``annotator_id``; None when it may."""
    if p is None:
        return None
    vendor = vendor_of(p)
    if vendor is not None:
        if vendor_id != vendor:
            # Same answer whether the assignment exists or not: a vendor learns nothing about
            # another vendor's work.
            return PermissionDenied(
                f"assignment {assignment_id} is not leased to vendor {vendor}",
                reason="NOT_YOUR_TASK",
            )
        return None
    if vendor_id:
        # A vendor's lease is answered to anyone else as a missing one.
        return missing_assignment(p, assignment_id)
    if acts_only_as_itself(p) and annotator_id != p.subject:
        return PermissionDenied(
            f"assignment {assignment_id} is not leased to {p.subject}",
            reason="ANNOTATOR_MISMATCH",
        )
    return None


def check_assignment_access(
    p: Principal | None, assignment_id: object, vendor_id: str, annotator_id: str
) -> None:
    """Raise ``assignment_refusal`` when there is one."""
    if (refused := assignment_refusal(p, assignment_id, vendor_id, annotator_id)) is not None:
        raise refused


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


def submission_refusal(
    p: Principal | None, index: int, assignment_id: object, vendor_id: str, annotator_id: str
) -> DomainError | None:
    """``assignment_refusal`` for ``submissions[index]`` of a label batch (with the index in
    its metadata; a vendor's or a missing assignment answers as ``missing_submission``)."""
    refused = assignment_refusal(p, assignment_id, vendor_id, annotator_id)
    if refused is None:
        return None
    if refused.reason in ("NOT_YOUR_TASK", "ASSIGNMENT_NOT_FOUND"):
        return missing_submission(p, index, assignment_id)
    return PermissionDenied(
        f"submissions[{index}]: {refused.message}",
        reason=refused.reason,
        metadata={"submission_index": str(index)},
    )

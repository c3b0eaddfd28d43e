"""Who may do what: one roles x actions table for every service and the gateway.

Every public gRPC method (and gateway route) names one :class:`Action` in its service's
``entrypoints/access.py`` (``METHOD_ACTIONS``); the server kit's interceptor calls
:func:`require` with it before the handler runs, so a method that names no action is refused
(deny by default). Handlers add resource checks the table cannot express (a vendor sees only
its pool's tasks, an annotator acts only as itself) with :func:`principal_roles` /
:func:`can` and the tenant of :func:`current_principal`.

The roles a principal holds are its ``roles`` plus its ``kind`` when the kind is a role of its
own (``vendor``, ``model``, ``service``); a ``user`` without any role is an ``annotator`` (the
least a person who can log in may do). ``admin`` may do everything within its tenant. A
``service`` principal gets only the ``service`` row, whatever else it claims: naming it does
not open other rows. docs/security.md prints the table (``tools/security_doc.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from .context import Principal, current_principal
from .errors import PermissionDenied


class Action(StrEnum):
    """What a caller asks to do; ``<resource>.<verb>``."""

    ONTOLOGY_READ = "ontology.read"
    ONTOLOGY_WRITE = "ontology.write"
    ITEMS_READ = "items.read"
    ITEMS_WRITE = "items.write"
    PROJECT_READ = "project.read"
    PROJECT_MANAGE = "project.manage"
    TASK_WORK = "task.work"
    QUALITY_READ = "quality.read"
    QUALITY_RUN = "quality.run"
    REVIEW_WRITE = "review.write"
    MODEL_READ = "model.read"
    MODEL_MANAGE = "model.manage"
    MODEL_PREDICT = "model.predict"
    DATASET_READ = "dataset.read"
    DATASET_WRITE = "dataset.write"
    EVENTS_READ = "events.read"
    GOLD_READ = "gold.read"
    AUDIT_READ = "audit.read"
    CREDENTIALS_MANAGE = "credentials.manage"


#: The roles, as documented in docs/security.md.
ROLES: tuple[str, ...] = (
    "admin",
    "manager",
    "ml_engineer",
    "reviewer",
    "annotator",
    "vendor",
    "model",
    "service",
)

A = Action
_READ_WORK = frozenset({A.ONTOLOGY_READ, A.ITEMS_READ, A.PROJECT_READ})

#: role → the actions it allows. ``admin`` allows every action (of its own tenant).
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "admin": frozenset(Action),
    "manager": _READ_WORK
    | {
        A.PROJECT_MANAGE,
        A.QUALITY_READ,
        A.QUALITY_RUN,
        A.REVIEW_WRITE,
        A.MODEL_READ,
        A.DATASET_READ,
        A.EVENTS_READ,
        A.GOLD_READ,
    },
    "ml_engineer": _READ_WORK
    | {
        A.ONTOLOGY_WRITE,
        A.ITEMS_WRITE,
        A.QUALITY_READ,
        A.QUALITY_RUN,
        A.MODEL_READ,
        A.MODEL_MANAGE,
        A.MODEL_PREDICT,
        A.DATASET_READ,
        A.DATASET_WRITE,
        A.EVENTS_READ,
    },
    "reviewer": _READ_WORK | {A.QUALITY_READ, A.REVIEW_WRITE, A.DATASET_READ},
    # People and workforces who label: their own tasks only (the handlers filter by pool,
    # vendor and annotator); the ontology to label against; never gold, never other labels.
    "annotator": frozenset({A.ONTOLOGY_READ, A.PROJECT_READ, A.TASK_WORK}),
    "vendor": frozenset({A.ONTOLOGY_READ, A.PROJECT_READ, A.TASK_WORK}),
    # A model server's identity (pre-labels are written by the prelabel service itself).
    "model": frozenset({A.ONTOLOGY_READ, A.ITEMS_READ, A.MODEL_READ}),
    # Tools and services acting for the tenant: read everything, run the pipeline; managing
    # people (pools, annotators), reviews and credentials stay with people.
    "service": frozenset(
        {
            A.ONTOLOGY_READ,
            A.ITEMS_READ,
            A.ITEMS_WRITE,
            A.PROJECT_READ,
            A.QUALITY_READ,
            A.QUALITY_RUN,
            A.MODEL_READ,
            A.MODEL_PREDICT,
            A.DATASET_READ,
            A.DATASET_WRITE,
            A.EVENTS_READ,
            A.GOLD_READ,
        }
    ),
}

#: Kinds that are a role of their own (and only that role).
_KIND_ROLES = frozenset({"vendor", "model", "service"})

#: ErrorInfo reason of every denial by the table.
REASON_FORBIDDEN = "PERMISSION_DENIED_BY_ROLE"


def principal_roles(p: Principal) -> frozenset[str]:
    """The table's rows ``p`` holds (see the module docstring)."""
    if p.kind in _KIND_ROLES:
        # A vendor / model / service key gets its kind's row; an admin role on such a key
        # would let a workforce or a tool manage the tenant.
        return frozenset({p.kind})
    roles = frozenset(r for r in p.roles if r in ROLE_ACTIONS and r not in _KIND_ROLES)
    return roles or frozenset({"annotator"})


def allowed_actions(p: Principal) -> frozenset[Action]:
    out: set[Action] = set()
    for role in principal_roles(p):
        out |= ROLE_ACTIONS[role]
    return frozenset(out)


def can(p: Principal | None, action: Action) -> bool:
    """True when ``p`` may ``action``; no principal (embedded use, no authenticator) may."""
    if p is None:
        return True
    return action in allowed_actions(p)


def require(action: Action, *, principal: Principal | None = None) -> Principal | None:
    """Raise PERMISSION_DENIED unless the caller (default: the current one) may ``action``.

    Returns the principal (None without an authenticator: embedded use, unit wiring).
    """
    p = current_principal() if principal is None else principal
    if p is None:
        return None
    if action not in allowed_actions(p):
        raise PermissionDenied(
            f"{p.kind} {p.subject} may not {action.value}", reason=REASON_FORBIDDEN
        )
    return p


def roles_allowing(action: Action) -> list[str]:
    """The roles whose row holds ``action``, in table order (for docs and error messages)."""
    return [r for r in ROLES if action in ROLE_ACTIONS[r]]


def require_role(
    *roles: str,
    action: str,
    reason: str,
    allow_service: bool = True,
    allow_vendor: bool = False,
) -> Principal | None:
    """A handler-level check by role name, for rules finer than the method's action.

    Same principal resolution as :func:`require`: a principal holds ``principal_roles`` (a
    service key holds only ``service``; ``admin`` counts as every role of a person).

    - no principal → allowed;
    - a vendor → denied unless ``allow_vendor``;
    - no ``roles`` named → any principal that is not a vendor (or a vendor if allowed);
    - otherwise one of ``roles``, or ``admin``, or a service principal while ``allow_service``.
    """
    p = current_principal()
    if p is None:
        return None
    held = principal_roles(p)
    if "vendor" in held and not allow_vendor:
        raise PermissionDenied(f"vendor {p.subject} may not {action}", reason=reason)
    if not roles or "vendor" in held:
        return p
    if "admin" in held or held & set(roles) or (allow_service and "service" in held):
        return p
    raise PermissionDenied(f"{p.kind} {p.subject} may not {action}", reason=reason)


def method_table(method_actions: dict[str, Action], methods: Iterable[str]) -> list[str]:
    """The ``methods`` (full names) that ``method_actions`` forgets: a test asserts it is []."""
    return sorted(m for m in methods if m not in method_actions)

"""What the audit log records, and the sink the server kit hands records to.

Every command (an action that is not ``*.read``) and every denial (any action) becomes one
:class:`AuditRecord`. The sink must not block the call: the event store's ``AuditLog`` buffers
and writes in batches, then chains the records per tenant (``labelops audit verify``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .clock import utc_now

OUTCOME_OK = "ok"
OUTCOME_DENIED = "denied"
OUTCOME_UNAUTHENTICATED = "unauthenticated"
OUTCOME_FAILED = "failed"


@dataclass(frozen=True)
class AuditRecord:
    """One audited decision.

    ``outcome``: ok / denied / unauthenticated / failed; ``code``: the gRPC status name (OK,
    PERMISSION_DENIED, NOT_FOUND, …); ``resource``: what the call named (ids from the request,
    best effort, never secrets); ``reason``: the ErrorInfo reason of a refusal.
    """

    tenant_id: str
    actor_kind: str
    actor_id: str
    service: str
    method: str
    action: str
    outcome: str
    code: str
    resource: str = ""
    reason: str = ""
    trace_id: str = ""
    at: datetime = field(default_factory=utc_now)


class AuditSink(Protocol):
    def record(self, rec: AuditRecord) -> None:
        """Take ``rec`` without blocking (buffer it); never raise into the call."""
        ...


class MemoryAuditSink:
    """A sink that keeps records in a list (unit tests, embedded use)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, rec: AuditRecord) -> None:
        self.records.append(rec)

"""The principal a consumed event's handler acts as: the event's tenant and causing actor.

Around every per-record handler (``ConsumerRunner``, ``Dispatch``) the bus binds
``labelops_core.context.principal_of_envelope(...)`` of the record's envelope, so anything the
handler appends through ``EventStore`` without naming a tenant or actor gets the causing
event's (the store falls back to the bound principal): a derived event is never tenant-less.
Batch handlers get many records of possibly many tenants at once; nothing is bound for them
and they must pass ``tenant_id`` / ``actor_kind`` / ``actor_id`` per record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from labelops.events.v1 import envelope_pb2
from labelops_core.context import Principal, principal_of_envelope, reset_principal, set_principal

#: The envelope's actor kinds by enum value, as ``Principal.kind`` and ``NewEvent.actor_kind``
#: name them (the same map as ``labelops_eventstore.events.ACTOR_KIND_NAMES``; the bus does not
#: depend on the event store). Unspecified → "" (``principal_of_envelope`` makes it "service").
ACTOR_KIND_NAMES: dict[int, str] = {
    envelope_pb2.ACTOR_KIND_UNSPECIFIED: "",
    envelope_pb2.ACTOR_KIND_USER: "user",
    envelope_pb2.ACTOR_KIND_VENDOR: "vendor",
    envelope_pb2.ACTOR_KIND_MODEL: "model",
    envelope_pb2.ACTOR_KIND_SERVICE: "service",
}


def envelope_principal(envelope: Any) -> Principal | None:
    """The principal of an ``EventEnvelope`` (its tenant, actor kind and id); None for what a
    custom decoder returned that is not an envelope (nothing is bound then)."""
    if not isinstance(envelope, envelope_pb2.EventEnvelope):
        return None
    actor = envelope.actor
    # An unknown (newer) enum value acts as a service, never as a user with roles.
    kind = ACTOR_KIND_NAMES.get(actor.kind, "service")
    return principal_of_envelope(envelope.tenant_id, kind, actor.id)


@contextlib.contextmanager
def acting_as_envelope(envelope: Any) -> Iterator[Principal | None]:
    """Bind ``envelope_principal(envelope)`` for the block and reset it after (also on error).
    A non-envelope binds nothing and leaves the current principal as it is."""
    principal = envelope_principal(envelope)
    if principal is None:
        yield None
        return
    token = set_principal(principal)
    try:
        yield principal
    finally:
        reset_principal(token)

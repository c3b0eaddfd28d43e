"""Whose an operation is: the tenant every read-model statement is scoped to, and the tenant
and actor the events it derives carry.

A request is of the caller's tenant (``current_tenant()``; its events name the caller, which
the event store takes from the bound principal). A consumed event's handling is of that
event's tenant, and what it derives names the event's actor (``principal_of_envelope``), set
on each event explicitly: no derived event is tenant-less, whatever the runner binds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from labelops_core.context import current_tenant, principal_of_envelope
from labelops_eventstore import NewEvent
from labelops_eventstore.events import ACTOR_KIND_NAMES


@dataclass(frozen=True)
class Origin:
    tenant_id: str
    #: None: the event store names the bound principal (a request's caller).
    actor_kind: str | None = None
    actor_id: str | None = None

    @classmethod
    def of_envelope(cls, env: Any) -> Origin:
        """The consumed event's tenant and actor (``default`` / the system when unnamed)."""
        kind = ACTOR_KIND_NAMES.get(env.actor.kind, "") if env.HasField("actor") else ""
        p = principal_of_envelope(env.tenant_id, kind, env.actor.id)
        return cls(p.tenant_id, p.kind, p.subject)

    @classmethod
    def request(cls) -> Origin:
        """The caller's tenant (``default`` without an authenticator)."""
        return cls(current_tenant())

    def event(self, message: Message) -> NewEvent:
        """``message`` as an event of this origin."""
        return NewEvent.of(
            message, tenant_id=self.tenant_id, actor_kind=self.actor_kind, actor_id=self.actor_id
        )

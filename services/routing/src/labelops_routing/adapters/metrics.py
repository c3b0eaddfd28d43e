"""OpenTelemetry instruments of the routing service (meter "labelops.routing").

Throughput: labels accepted and tasks offered (counters). Queue depth: open tasks per tenant,
pool and state, refreshed by the lease sweeper each round (an observable gauge cannot query Postgres
from its callback). The SDK keeps the callback of the first registration of an observable
instrument, so the gauge reads one process-wide table that every running app of the process
refreshes (normally exactly one).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("labelops.routing")
#: (schema, tenant, pool_id, state) → tasks; replaced wholesale by ``set_queue_depth``.
_depth: dict[tuple[str, str, str, str], int] = {}

labels_accepted = _meter.create_counter(
    "labelops.routing.labels.accepted",
    unit="{label}",
    description="Labels committed through SubmitLabels / the Work stream, by pool.",
)
tasks_offered = _meter.create_counter(
    "labelops.routing.tasks.offered",
    unit="{task}",
    description="Task leases handed out by claims, by pool.",
)
leases_expired = _meter.create_counter(
    "labelops.routing.leases.expired",
    unit="{lease}",
    description="Leases that ran out before a label or a skip (the task is offered again).",
)


def _observe(options: CallbackOptions) -> Iterable[Observation]:
    for (schema, tenant, pool, state), n in list(_depth.items()):
        yield Observation(n, {"schema": schema, "tenant": tenant, "pool": pool, "state": state})


_meter.create_observable_gauge(
    "labelops.routing.queue.depth",
    callbacks=[_observe],
    unit="{task}",
    description="Open tasks per tenant and pool: queued (can be offered) and in_progress (leased).",
)


def set_queue_depth(schema: str, counts: dict[tuple[str, str, str], int]) -> None:
    """Replace the schema's figures with ``counts`` ((tenant, pool, state) → tasks)."""
    for key in [k for k in _depth if k[0] == schema]:
        del _depth[key]
    for (tenant, pool, state), n in counts.items():
        _depth[(schema, tenant, pool, state)] = n

"""What every routing command shares: task ids and streams.

Who may call which method is ``entrypoints/access.py`` (checked before any handler runs); who
may act on which pool, assignment or annotator is ``domain/access.py``."""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from labelops_core.context import DEFAULT_TENANT

TASK_NAMESPACE = uuid.UUID("7b0f3c1e-5a61-4f7c-9a55-2f8d6c0b9e21")
MAX_REQUEST_ID_CHARS = 128


def task_id_for(tenant_id: str, project_id: str, item_id: str, gold: bool = False) -> uuid.UUID:
    """Deterministic: creating the task of an item twice finds the first one.

    Two tenants may each have a project "p1" with an item "img-1": the tenant is part of the
    name, so task ids stay unique across tenants (QA, datasets and the event log name tasks by
    id). The default tenant's names are those from before tenants, so its tasks keep their ids.
    """
    name = f"{project_id}\x1f{item_id}\x1f{'gold' if gold else ''}"
    if tenant_id != DEFAULT_TENANT:
        name = f"{tenant_id}\x1f{name}"
    return uuid.uuid5(TASK_NAMESPACE, name)


def task_stream(project_id: str, task_id: uuid.UUID | str) -> str:
    return f"projects/{project_id}/tasks/{task_id}"


def timestamp(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t

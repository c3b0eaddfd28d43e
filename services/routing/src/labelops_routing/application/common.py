"""What every routing command shares: task ids and streams, who may manage routing."""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from labelops_core.authz import require_role

TASK_NAMESPACE = uuid.UUID("7b0f3c1e-5a61-4f7c-9a55-2f8d6c0b9e21")
MAX_REQUEST_ID_CHARS = 128


def task_id_for(project_id: str, item_id: str, gold: bool = False) -> uuid.UUID:
    """Deterministic: creating the task of an item twice finds the first one."""
    return uuid.uuid5(TASK_NAMESPACE, f"{project_id}\x1f{item_id}\x1f{'gold' if gold else ''}")


def task_stream(project_id: str, task_id: uuid.UUID | str) -> str:
    return f"projects/{project_id}/tasks/{task_id}"


def require_manager() -> None:
    """Project, pool, rule and task changes: managers (admin counts) and services."""
    require_role("manager", action="manage routing", reason="ROUTING_ADMIN_REQUIRED")


def timestamp(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t

"""What every routing command shares: task ids and streams.

Who may call which method is ``entrypoints/access.py`` (checked before any handler runs); who
may act on which pool, assignment or annotator is ``domain/access.py``."""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

TASK_NAMESPACE = uuid.UUID("7b0f3c1e-5a61-4f7c-9a55-2f8d6c0b9e21")
MAX_REQUEST_ID_CHARS = 128


def task_id_for(project_id: str, item_id: str, gold: bool = False) -> uuid.UUID:
    """Deterministic: creating the task of an item twice finds the first one."""
    return uuid.uuid5(TASK_NAMESPACE, f"{project_id}\x1f{item_id}\x1f{'gold' if gold else ''}")


def task_stream(project_id: str, task_id: uuid.UUID | str) -> str:
    return f"projects/{project_id}/tasks/{task_id}"


def timestamp(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t

"""Printing: rich tables for people, plain JSON for scripts.

Consoles are created per call, so they follow whatever ``sys.stdout`` / ``COLUMNS`` are at that
moment (tests swap them). JSON is written with ``print``, never through rich, so long lines are
never wrapped or styled.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.table import Table


def console() -> Console:
    """Console on stdout."""
    return Console(highlight=False)


def err_console() -> Console:
    """Console on stderr (errors, warnings, progress)."""
    return Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    """``warning: message`` on stderr."""
    err_console().print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)


def to_dict(message: Message) -> dict[str, Any]:
    """A message as a JSON-able dict with proto field names (enums by name)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def jsonable(data: Any) -> Any:
    """``data`` with protobuf messages (also inside lists and dicts) as dicts."""
    if isinstance(data, Message):
        return to_dict(data)
    if isinstance(data, list | tuple):
        return [jsonable(d) for d in data]
    if isinstance(data, dict):
        return {k: jsonable(v) for k, v in data.items()}
    return data


def print_json(data: Any) -> None:
    """One JSON document on stdout (protobuf messages converted)."""
    sys.stdout.write(json.dumps(jsonable(data), indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    """One compact JSON line on stdout, flushed (for ``events tail --json``)."""
    sys.stdout.write(
        json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str) + "\n"
    )
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A rich table; numeric-looking columns are right-aligned by the caller's formatting."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def timestamp(ts: Timestamp) -> str:
    """``YYYY-MM-DD HH:MM:SS`` UTC, or "" for an unset timestamp."""
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")


def enum_name(value: int, enum_type: Any, prefix: str = "") -> str:
    """``GEOMETRY_KIND_BOUNDING_BOX`` → ``bounding_box`` (prefix stripped, lower case)."""
    try:
        name = str(enum_type.Name(value))
    except ValueError:
        return str(value)
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    return name.lower()


def number(value: float, digits: int = 3) -> str:
    """A float for a table: NaN as "-", else rounded."""
    if value != value:  # NaN
        return "-"
    return f"{value:.{digits}f}"


def now_utc() -> datetime:
    return datetime.now(UTC)

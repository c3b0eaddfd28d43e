"""Linking the log of accepted labels (pure): what follows from the rows of one partition.

Rows are appended by the projection without being parsed. Before a version is made, the rows
appended since the last link are read in log order, per partition, and linked:

- each row's ``superseded_offset``: the offset of the task's next ``LabelAccepted`` (the task
  stream is the record key, so a task's events are in one partition, in order). A version at a
  cut takes, per task, the row below the cut whose successor (if any) is at or above it;
- the ontology versions a project's labels were made under, with the first offset of each;
- payloads that are not a ``LabelAccepted``: left out of every version (deleted; they
  supersede nothing, deterministic on any replay).

Everything linking decides follows from the log alone. ``PartitionLink`` is fed the rows of
one partition's range in order; the caller then asks it which tasks' earlier rows (below the
range) it needs, and writes what it found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from labelops.qa.v1 import events_pb2 as qev

#: A task's key: (tenant, project, task) — whatever comes before the task id scopes it (two
#: tenants' tasks of "the same" project never supersede each other).
Task = tuple[str, ...]

_parse = qev.LabelAccepted.FromString


def parse_accepted(payload: bytes) -> qev.LabelAccepted | None:
    """The payload as a ``LabelAccepted``, None when it is not one."""
    try:
        return _parse(payload)
    except DecodeError:
        return None


@dataclass
class PartitionLink:
    """What linking the rows [start, end) of one partition decides.

    Attributes:
        superseded: (offset, superseded_offset) pairs found so far.
        ontologies: (tenant, project, ontology id, ontology version) → first offset in the
            range (the task key without the task id, then the ontology).
        bad: offsets of payloads that are not a ``LabelAccepted``.
    """

    start: int
    superseded: list[tuple[int, int]] = field(default_factory=list)
    ontologies: dict[tuple[str, ...], int] = field(default_factory=dict)
    bad: list[int] = field(default_factory=list)
    _last: dict[Task, int] = field(default_factory=dict)  # task → its latest offset so far
    _firsts: dict[Task, int] = field(default_factory=dict)  # task → its first offset in range

    def add(self, offset: int, task: Task, event: qev.LabelAccepted | None) -> None:
        """The next row of the range (``event`` None: its payload does not parse)."""
        if event is None:
            self.bad.append(offset)
            return
        previous = self._last.get(task)
        if previous is None:
            self._firsts[task] = offset
        else:
            self.superseded.append((previous, offset))
        self._last[task] = offset
        lineage = event.lineage
        key = (*task[:-1], lineage.ontology_id, lineage.ontology_version)
        if key not in self.ontologies:
            self.ontologies[key] = offset

    def earlier_tasks(self) -> list[Task]:
        """The tasks whose latest row below ``start`` the range supersedes (to look up)."""
        return list(self._firsts) if self.start > 0 else []

    def before(self, latest: Mapping[Task, int]) -> None:
        """The latest row below ``start`` of some of ``earlier_tasks``: superseded by the
        task's first row in the range."""
        for task, offset in latest.items():
            first = self._firsts.get(task)
            if first is not None:
                self.superseded.append((offset, first))

"""Qualified table names of the prelabel schema (the read models of migrations/)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from labelops_eventstore.schema import check_identifier


@dataclass(frozen=True)
class Tables:
    models: str
    model_versions: str
    embeddings: str
    tasks: str
    labels: str
    roi_observations: str
    class_switches: str
    project_labels: str

    @classmethod
    def of(cls, schema: str) -> Tables:
        s = f'"{check_identifier(schema)}"'
        return cls(*(f"{s}.{f.name}" for f in fields(cls)))

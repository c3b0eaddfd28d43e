"""Qualified table names of the datasets schema (the read models of migrations/)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from labelops_eventstore.schema import check_identifier


@dataclass(frozen=True)
class Tables:
    accepted: str
    link_positions: str
    segments: str
    project_ontologies: str
    items: str
    ontology_versions: str
    ontology_migrations: str
    datasets: str
    versions: str
    segment_files: str

    @classmethod
    def of(cls, schema: str) -> Tables:
        s = f'"{check_identifier(schema)}"'
        return cls(*(f"{s}.{f.name}" for f in fields(cls)))

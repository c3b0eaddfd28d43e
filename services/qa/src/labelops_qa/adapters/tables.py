"""Qualified table names of the QA schema (the read models of migrations/)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import asyncpg
from labelops_eventstore.schema import check_identifier

#: Where a statement runs: a transaction's connection, or the pool (reads outside one).
Db = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class Tables:
    projects: str
    ontology_versions: str
    tasks: str
    labels: str
    consensus: str
    runs: str
    gold_scores: str
    class_stats: str
    drift_flags: str

    @classmethod
    def of(cls, schema: str) -> Tables:
        s = f'"{check_identifier(schema)}"'
        return cls(*(f"{s}.{f.name}" for f in fields(cls)))

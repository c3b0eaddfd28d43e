"""Qualified table names of the routing schema (the read models of migrations/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from labelops_eventstore.schema import check_identifier

#: Where a statement runs: a transaction's connection, or the pool (reads outside one).
Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class Tables:
    projects: str
    pools: str
    annotators: str
    items: str
    ontology_versions: str
    tasks: str
    assignments: str
    offer_counters: str

    @classmethod
    def of(cls, schema: str) -> Tables:
        s = f'"{check_identifier(schema)}"'
        return cls(
            *(
                f"{s}.{name}"
                for name in (
                    "projects",
                    "pools",
                    "annotators",
                    "items",
                    "ontology_versions",
                    "tasks",
                    "assignments",
                    "offer_counters",
                )
            )
        )

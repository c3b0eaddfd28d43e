"""Every read model of the routing schema, bound to one schema (the composition root makes
one and hands it to the application)."""

from __future__ import annotations

from dataclasses import dataclass

from .assignments import Assignments, OfferCounters
from .items import Items
from .projects import Projects
from .tables import Tables
from .tasks import Tasks
from .workforce import Annotators, Pools


@dataclass(frozen=True)
class ReadModels:
    tables: Tables
    projects: Projects
    pools: Pools
    annotators: Annotators
    items: Items
    tasks: Tasks
    assignments: Assignments
    offers: OfferCounters

    @classmethod
    def of(cls, schema: str) -> ReadModels:
        t = Tables.of(schema)
        return cls(
            t,
            Projects(t),
            Pools(t),
            Annotators(t),
            Items(t),
            Tasks(t),
            Assignments(t),
            OfferCounters(t),
        )

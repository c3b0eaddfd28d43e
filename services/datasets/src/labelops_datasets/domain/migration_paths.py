"""Migration plans between ontology versions from the stored migrations (pure).

The ontology service publishes one ``OntologyMigrationCreated`` per pair of versions; a
version whose labels were made under an older version migrates them along the shortest chain
of such migrations to the target (``labelops_ontologykit.migration.chain_migrations``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from labelops.ontology.v1 import events_pb2 as oev
from labelops_ontologykit.migration import MigrationPlan, chain_migrations, compile_migration

Resolver = Callable[[str, str], MigrationPlan | None]


def resolver(migrations: Iterable[tuple[str, str, bytes]]) -> Resolver:
    """``resolve(from, to)``: the plan from one version to another, None without a path;
    memoized. ``migrations``: (from_version, to_version, serialized OntologyMigrationCreated)
    of one ontology."""
    edges: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for from_version, to_version, raw in migrations:
        edges[from_version].append((to_version, raw))
    plans: dict[tuple[str, str], MigrationPlan | None] = {}

    def resolve(from_version: str, to_version: str) -> MigrationPlan | None:
        key = (from_version, to_version)
        if key not in plans:
            plans[key] = shortest_path(edges, from_version, to_version)
        return plans[key]

    return resolve


def shortest_path(
    edges: Mapping[str, list[tuple[str, bytes]]], start: str, goal: str
) -> MigrationPlan | None:
    """The chained plan of the shortest migration path start → goal (BFS), or None."""
    frontier: list[tuple[str, list[tuple[str, str, bytes]]]] = [(start, [])]
    seen = {start}
    while frontier:
        nxt = []
        for node, path in frontier:
            for to, raw in edges.get(node, ()):
                if to in seen:
                    continue
                step = [*path, (node, to, raw)]
                if to == goal:
                    return chain_migrations(
                        [
                            compile_migration(
                                f, t, oev.OntologyMigrationCreated.FromString(r).rules
                            )
                            for f, t, r in step
                        ]
                    )
                seen.add(to)
                nxt.append((to, step))
        frontier = nxt
    return None

"""Migration plans between ontology versions from the stored migrations (pure).

The ontology service publishes one ``OntologyMigrationCreated`` per pair of versions; a
version whose labels were made under an older version migrates them along the shortest chain
of such migrations to the target (``labelops_ontologykit.migration.chain_migrations``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import events_pb2 as oev
from labelops_ontologykit.migration import MigrationPlan, chain_migrations, compile_migration

from .pruning import TargetVersion


class Migration(Protocol):
    """What the build needs of a migration: a label's migrated copy, or None (dropped)."""

    def apply(self, label: label_pb2.Label) -> label_pb2.Label | None: ...


Resolver = Callable[[str, str], Migration | None]


class TargetOntologyUnknown(Exception):
    """Labels must be migrated to a version whose definition the service has not received:
    without it the migrated labels cannot be fitted to it (``pruning``), and a version built
    so would not rebuild to the same bytes once the definition arrives."""

    def __init__(self, to_version: str) -> None:
        super().__init__(
            f"ontology version {to_version} is not known here yet (no OntologyVersionPublished "
            "consumed): labels cannot be migrated to it"
        )


@dataclass(frozen=True)
class FittedPlan:
    """A migration plan, then the migrated label fitted to the target version."""

    plan: MigrationPlan
    target: TargetVersion

    def apply(self, label: label_pb2.Label) -> label_pb2.Label | None:
        migrated = self.plan.apply(label)
        return None if migrated is None else self.target.fit(migrated)


def resolver(
    migrations: Iterable[tuple[str, str, bytes]],
    targets: Mapping[str, TargetVersion] | None = None,
) -> Resolver:
    """``resolve(from, to)``: the plan from one version to another, None without a path;
    memoized. ``migrations``: (from_version, to_version, serialized OntologyMigrationCreated)
    of one ontology. With ``targets`` (version → its ``TargetVersion``) a plan's labels are
    fitted to the version they migrate to (``FittedPlan``), and a path to a version not in
    ``targets`` raises ``TargetOntologyUnknown``; without, plans apply the rules alone."""
    edges: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for from_version, to_version, raw in migrations:
        edges[from_version].append((to_version, raw))
    plans: dict[tuple[str, str], Migration | None] = {}

    def resolve(from_version: str, to_version: str) -> Migration | None:
        key = (from_version, to_version)
        if key not in plans:
            plan = shortest_path(edges, from_version, to_version)
            if plan is not None and targets is not None:
                target = targets.get(to_version)
                if target is None:
                    raise TargetOntologyUnknown(to_version)
                plans[key] = FittedPlan(plan, target)
            else:
                plans[key] = plan
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

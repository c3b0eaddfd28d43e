"""Label migrations between ontology versions: checking rules, compiling and applying them.

A migration is a list of ``MigrationRule`` (map / merge / split / drop classes, map options).
``check_migration`` verifies rules against both definitions (the service calls it when a
migration is created); ``compile_migration`` turns rules into a ``MigrationPlan`` that needs no
definition to run, so a datasets projection can migrate labels in-process and compose steps
(``chain_migrations``: v1→v2→v3).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import definition_pb2, ontology_pb2
from labelops_core.errors import FieldViolation, InvalidArgument

from .definition import CLASS, OPTION, Node, index
from .geometry import area

_AREA_GEOMETRIES: Final = frozenset(
    {
        definition_pb2.GEOMETRY_KIND_BOUNDING_BOX,
        definition_pb2.GEOMETRY_KIND_ROTATED_BOX,
        definition_pb2.GEOMETRY_KIND_POLYGON,
        definition_pb2.GEOMETRY_KIND_MASK,
        definition_pb2.GEOMETRY_KIND_DICOM_REGION,
    }
)


def _class_sources(rule: ontology_pb2.MigrationRule) -> list[tuple[str, str]]:
    """(field suffix, class id) of every class a rule consumes."""
    which = rule.WhichOneof("rule")
    if which == "map_class":
        return [("map_class.from_class_id", rule.map_class.from_class_id)]
    if which == "merge_classes":
        return [
            (f"merge_classes.from_class_ids[{i}]", c)
            for i, c in enumerate(rule.merge_classes.from_class_ids)
        ]
    if which == "split_class":
        return [("split_class.from_class_id", rule.split_class.from_class_id)]
    if which == "drop_class":
        return [("drop_class.class_id", rule.drop_class.class_id)]
    return []


def _class_targets(rule: ontology_pb2.MigrationRule) -> list[tuple[str, str]]:
    """(field suffix, class id) of every class a rule produces (empty split default excluded)."""
    which = rule.WhichOneof("rule")
    if which == "map_class":
        return [("map_class.to_class_id", rule.map_class.to_class_id)]
    if which == "merge_classes":
        return [("merge_classes.to_class_id", rule.merge_classes.to_class_id)]
    if which == "split_class":
        s = rule.split_class
        out = [
            (f"split_class.cases[{i}].to_class_id", c.to_class_id) for i, c in enumerate(s.cases)
        ]
        if s.default_class_id:
            out.append(("split_class.default_class_id", s.default_class_id))
        return out
    return []


def _structure(rules: Sequence[ontology_pb2.MigrationRule]) -> list[FieldViolation]:
    """Problems visible without definitions: empty rules/ids, classes or options covered twice."""
    out: list[FieldViolation] = []
    covered: dict[str, str] = {}
    mapped_options: dict[str, str] = {}
    for i, rule in enumerate(rules):
        p = f"rules[{i}]"
        which = rule.WhichOneof("rule")
        if which is None:
            out.append(FieldViolation(p, "rule is empty"))
            continue
        if which == "merge_classes" and not rule.merge_classes.from_class_ids:
            out.append(
                FieldViolation(f"{p}.merge_classes.from_class_ids", "merge needs source classes")
            )
        for suffix, cid in _class_sources(rule):
            if not cid:
                out.append(FieldViolation(f"{p}.{suffix}", "class id is empty"))
            elif cid in covered:
                out.append(
                    FieldViolation(
                        f"{p}.{suffix}", f"class {cid!r} is already covered by {covered[cid]}"
                    )
                )
            else:
                covered[cid] = p
        for suffix, cid in _class_targets(rule):
            if not cid:
                out.append(FieldViolation(f"{p}.{suffix}", "class id is empty"))
        if which == "split_class":
            for ci, case in enumerate(rule.split_class.cases):
                cond = case.when.WhichOneof("condition")
                cp = f"{p}.split_class.cases[{ci}].when"
                if cond is None:
                    out.append(FieldViolation(cp, "case has no condition"))
                elif cond == "option_id" and not case.when.option_id:
                    out.append(FieldViolation(f"{cp}.option_id", "option id is empty"))
                elif cond == "min_area" and not (
                    math.isfinite(case.when.min_area) and case.when.min_area >= 0
                ):
                    out.append(FieldViolation(f"{cp}.min_area", "min_area must be finite and >= 0"))
        if which == "map_option":
            m = rule.map_option
            if not m.from_option_id:
                out.append(FieldViolation(f"{p}.map_option.from_option_id", "option id is empty"))
            elif m.from_option_id in mapped_options:
                out.append(
                    FieldViolation(
                        f"{p}.map_option.from_option_id",
                        f"option {m.from_option_id!r} is already mapped by "
                        f"{mapped_options[m.from_option_id]}",
                    )
                )
            else:
                mapped_options[m.from_option_id] = p
            if not m.to_option_id:
                out.append(FieldViolation(f"{p}.map_option.to_option_id", "option id is empty"))
    return out


def check_migration(
    from_def: definition_pb2.OntologyDefinition,
    to_def: definition_pb2.OntologyDefinition,
    rules: Sequence[ontology_pb2.MigrationRule],
) -> list[FieldViolation]:
    """Problems with migrating labels of ``from_def`` to ``to_def`` with ``rules``.

    Every rule's source classes exist in ``from_def`` and its target classes exist in
    ``to_def`` and are not deprecated there; a target keeps the source's geometry kind (the
    plan does not convert shapes, so the migrated label would not validate); split conditions
    name an option of the source class, or a ``min_area`` on a class with an area; map_option
    sources are options of ``from_def``, targets non-deprecated options of ``to_def`` under the
    same classification id (answers keep their classification id). No class or option is
    covered twice, and every class of ``from_def`` that is removed or retyped in ``to_def``
    must be covered by a class rule (map / merge / split / drop).
    """
    out = _structure(rules)
    old = index(from_def)
    new = index(to_def)
    covered: set[str] = set()
    for i, rule in enumerate(rules):
        p = f"rules[{i}]"
        sources = _class_sources(rule)
        src_geometries: set[int] = set()
        for suffix, cid in sources:
            covered.add(cid)
            node = old.get(cid)
            if cid and (node is None or node.kind != CLASS):
                out.append(
                    FieldViolation(f"{p}.{suffix}", f"no class {cid!r} in the source version")
                )
            elif node is not None:
                src_geometries.add(node.msg.geometry)
        for suffix, cid in _class_targets(rule):
            if not cid:
                continue
            node = new.get(cid)
            if node is None or node.kind != CLASS:
                out.append(
                    FieldViolation(f"{p}.{suffix}", f"no class {cid!r} in the target version")
                )
                continue
            if node.msg.deprecated:
                out.append(
                    FieldViolation(
                        f"{p}.{suffix}", f"class {cid!r} is deprecated in the target version"
                    )
                )
            geometry = node.msg.geometry
            for g in sorted(src_geometries - {geometry}):
                out.append(
                    FieldViolation(
                        f"{p}.{suffix}",
                        f"class {cid!r} takes {definition_pb2.GeometryKind.Name(geometry)} but a "
                        f"source class has {definition_pb2.GeometryKind.Name(g)}: migrated labels "
                        "would not validate",
                    )
                )
        if rule.WhichOneof("rule") == "split_class":
            out.extend(_check_split(p, rule.split_class, old))
        elif rule.WhichOneof("rule") == "map_option":
            out.extend(_check_map_option(p, rule.map_option, old, new))
    for node in old.values():
        if node.kind != CLASS or node.id in covered:
            continue
        target = new.get(node.id)
        if target is None or target.kind != CLASS:
            what = "removed"
        elif target.msg.geometry != node.msg.geometry:
            what = "retyped"
        else:
            continue
        out.append(
            FieldViolation(
                "rules",
                f"class {node.id!r} ({node.path}) is {what} in the target version and no rule "
                "maps, merges, splits or drops it",
            )
        )
    return out


def _check_split(
    p: str, s: ontology_pb2.SplitClassRule, old: dict[str, Node]
) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    src = old.get(s.from_class_id)
    if src is None or src.kind != CLASS:
        return out  # reported as a missing source already
    for ci, case in enumerate(s.cases):
        cp = f"{p}.split_class.cases[{ci}].when"
        cond = case.when.WhichOneof("condition")
        if cond == "option_id":
            oid = case.when.option_id
            opt = old.get(oid)
            if oid and (opt is None or opt.kind != OPTION or opt.class_id != src.id):
                out.append(
                    FieldViolation(
                        f"{cp}.option_id",
                        f"{oid!r} is not an option of class {src.id!r} in the source version",
                    )
                )
        elif cond == "min_area" and src.msg.geometry not in _AREA_GEOMETRIES:
            out.append(
                FieldViolation(
                    f"{cp}.min_area",
                    f"class {src.id!r} has {definition_pb2.GeometryKind.Name(src.msg.geometry)} "
                    "geometry, which has no area",
                )
            )
    return out


def _check_map_option(
    p: str, m: ontology_pb2.MapOptionRule, old: dict[str, Node], new: dict[str, Node]
) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    src = old.get(m.from_option_id)
    dst = new.get(m.to_option_id)
    if m.from_option_id and (src is None or src.kind != OPTION):
        out.append(
            FieldViolation(
                f"{p}.map_option.from_option_id",
                f"no option {m.from_option_id!r} in the source version",
            )
        )
        src = None
    if m.to_option_id and (dst is None or dst.kind != OPTION):
        out.append(
            FieldViolation(
                f"{p}.map_option.to_option_id",
                f"no option {m.to_option_id!r} in the target version",
            )
        )
        dst = None
    if dst is not None and dst.msg.deprecated:
        out.append(
            FieldViolation(
                f"{p}.map_option.to_option_id",
                f"option {m.to_option_id!r} is deprecated in the target version",
            )
        )
    if src is not None and dst is not None and src.parent_id != dst.parent_id:
        out.append(
            FieldViolation(
                f"{p}.map_option.to_option_id",
                f"option {m.to_option_id!r} belongs to classification {dst.parent_id!r}, but "
                f"answers selecting {m.from_option_id!r} answer {src.parent_id!r}",
            )
        )
    return out


# --- plans ----------------------------------------------------------------------------------

_MAP: Final = 0
_DROP: Final = 1
_SPLIT: Final = 2


@dataclass(frozen=True, slots=True)
class _SplitCase:
    option_id: str | None
    min_area: float | None
    to_class_id: str


@dataclass(frozen=True, slots=True)
class _ClassAction:
    kind: int
    to_class_id: str = ""
    cases: tuple[_SplitCase, ...] = ()


@dataclass(frozen=True, slots=True)
class _Step:
    classes: Mapping[str, _ClassAction]
    options: Mapping[str, str]


@dataclass(frozen=True)
class MigrationPlan:
    """Compiled rules from ``from_version`` to ``to_version``; one step per chained migration.

    Needs no definition at run time. Build with ``compile_migration`` / ``chain_migrations``.
    """

    from_version: str
    to_version: str
    steps: tuple[_Step, ...] = field(repr=False)

    def apply(self, label: label_pb2.Label) -> label_pb2.Label | None:
        """The migrated copy of ``label`` (the input is untouched), or None when it is dropped.

        Per step: the class rule of the label's class applies first (map/merge: new class id;
        split: the first case whose condition holds on the label as it is at that step — an
        option selected in any answer, or the geometry area >= min_area — else the default,
        an empty default dropping the label; drop: None), then option mappings rewrite radio
        and checklist answers. Labels of classes without a rule keep their class.
        """
        out = label_pb2.Label()
        out.CopyFrom(label)
        for step in self.steps:
            act = step.classes.get(out.class_id)
            if act is not None:
                if act.kind == _DROP:
                    return None
                if act.kind == _MAP:
                    out.class_id = act.to_class_id
                else:
                    target = _split_target(act, out)
                    if not target:
                        return None
                    out.class_id = target
            if step.options:
                _map_options(out, step.options)
        return out


def _split_target(act: _ClassAction, label: label_pb2.Label) -> str:
    selected: set[str] | None = None
    label_area: float | None = None
    area_known = False
    for case in act.cases:
        if case.option_id is not None:
            if selected is None:
                selected = _selected_options(label)
            if case.option_id in selected:
                return case.to_class_id
        elif case.min_area is not None:
            if not area_known:
                label_area, area_known = area(label), True
            if label_area is not None and label_area >= case.min_area:
                return case.to_class_id
    return act.to_class_id


def _selected_options(label: label_pb2.Label) -> set[str]:
    out: set[str] = set()
    for a in label.answers:
        which = a.WhichOneof("value")
        if which == "option_id":
            out.add(a.option_id)
        elif which == "checklist":
            out.update(a.checklist.option_ids)
    return out


def _map_options(label: label_pb2.Label, options: Mapping[str, str]) -> None:
    for a in label.answers:
        which = a.WhichOneof("value")
        if which == "option_id":
            to = options.get(a.option_id)
            if to is not None:
                a.option_id = to
        elif which == "checklist":
            ids = a.checklist.option_ids
            if any(o in options for o in ids):
                # Two options mapped onto one must not select it twice.
                mapped = list(dict.fromkeys(options.get(o, o) for o in ids))
                del ids[:]
                ids.extend(mapped)


def compile_migration(
    from_version: str, to_version: str, rules: Sequence[ontology_pb2.MigrationRule]
) -> MigrationPlan:
    """A ``MigrationPlan`` for ``rules``; ``InvalidArgument`` (reason ``INVALID_MIGRATION``)
    when a rule is empty, names an empty id, a split case has no condition, or a class or
    option is covered twice. Checks against definitions are ``check_migration``'s job.
    """
    problems = _structure(rules)
    if problems:
        raise InvalidArgument("migration rules are invalid", problems, reason="INVALID_MIGRATION")
    classes: dict[str, _ClassAction] = {}
    options: dict[str, str] = {}
    for rule in rules:
        which = rule.WhichOneof("rule")
        if which == "map_class":
            classes[rule.map_class.from_class_id] = _ClassAction(_MAP, rule.map_class.to_class_id)
        elif which == "merge_classes":
            act = _ClassAction(_MAP, rule.merge_classes.to_class_id)
            for cid in rule.merge_classes.from_class_ids:
                classes[cid] = act
        elif which == "split_class":
            s = rule.split_class
            cases = tuple(
                _SplitCase(
                    c.when.option_id if c.when.WhichOneof("condition") == "option_id" else None,
                    c.when.min_area if c.when.WhichOneof("condition") == "min_area" else None,
                    c.to_class_id,
                )
                for c in s.cases
            )
            classes[s.from_class_id] = _ClassAction(_SPLIT, s.default_class_id, cases)
        elif which == "drop_class":
            classes[rule.drop_class.class_id] = _ClassAction(_DROP)
        elif which == "map_option":
            options[rule.map_option.from_option_id] = rule.map_option.to_option_id
    return MigrationPlan(from_version, to_version, (_Step(classes, options),))


def chain_migrations(plans: Sequence[MigrationPlan]) -> MigrationPlan:
    """One plan running ``plans`` in order (v1→v2, v2→v3 ⇒ v1→v3).

    ``ValueError`` when ``plans`` is empty or not contiguous (a plan's ``to_version`` must be
    the next one's ``from_version``). A label dropped by any step is dropped.
    """
    if not plans:
        raise ValueError("chain_migrations needs at least one plan")
    for a, b in itertools.pairwise(plans):
        if a.to_version != b.from_version:
            raise ValueError(
                f"plans are not contiguous: {a.from_version}->{a.to_version} is followed by "
                f"{b.from_version}->{b.to_version}"
            )
    steps = tuple(s for p in plans for s in p.steps)
    return MigrationPlan(plans[0].from_version, plans[-1].to_version, steps)

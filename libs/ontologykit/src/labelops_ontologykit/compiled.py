"""Compiled ontology versions and label validation.

``compile_ontology`` turns a definition into flat lookup tables once (class → spec with its
geometry checker, classifications by id with their options, required lists, attributes,
relationships); published versions are immutable, so a compiled version is cached forever
(``OntologyCache``). ``CompiledOntology.validate_items`` then walks labels with dict lookups
and chained comparisons only, reading each protobuf field once into a local, and builds
strings only for labels that are wrong: it runs on the label submission path of several
services (see README "Performance").

The tables are in ``specs``, the answer and attribute checks in ``answers``; this module keeps
the walk over items and labels, the geometry dispatch and the relations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import definition_pb2
from labelops_core.errors import InvalidArgument

from . import reasons as R
from .answers import (
    _check_answers,
    _check_attributes,
    _check_checklist,
    _illegal_nesting,
    _missing_answers,
    _unknown_classification,
)
from .definition import CLASS, CLASSIFICATION, OPTION, index, walk
from .definition import validate_definition as _validate_definition
from .geometry import BIG, BOUNDS_TOLERANCE, CHECKERS, GEOMETRY_FIELD, Checker
from .issues import LabelIssue
from .limits import LabelLimits, capped, label_too_large
from .specs import (
    _A_BOOL,
    _A_ENUM,
    _A_FLOAT,
    _A_INT,
    _A_STRING,
    _CHECKLIST,
    _EXPECTED_ANSWER,
    _EXPECTED_ATTR,
    _NUMBER,
    _RADIO,
    _TEXT,
    _Attr,
    _Choice,
    _ClassSpec,
    _Range,
    _RelSpec,
    _Text,
)

# Parts of this module live in specs.py and answers.py; every name it had stays importable.
__all__ = [
    "BIG",
    "BOUNDS_TOLERANCE",
    "CHECKERS",
    "CLASS",
    "CLASSIFICATION",
    "GEOMETRY_FIELD",
    "OPTION",
    "_A_BOOL",
    "_A_ENUM",
    "_A_FLOAT",
    "_A_INT",
    "_A_STRING",
    "_CHECKLIST",
    "_EXPECTED_ANSWER",
    "_EXPECTED_ATTR",
    "_NUMBER",
    "_RADIO",
    "_TEXT",
    "Checker",
    "CompiledOntology",
    "LabelIssue",
    "R",
    "_Attr",
    "_Choice",
    "_ClassSpec",
    "_Range",
    "_RelSpec",
    "_Text",
    "_check_answers",
    "_check_attributes",
    "_check_checklist",
    "_geometry_mismatch",
    "_illegal_nesting",
    "_missing_answers",
    "_unknown_classification",
    "_validate_definition",
    "compile_ontology",
    "index",
    "walk",
]


def compile_ontology(
    definition: definition_pb2.OntologyDefinition, *, limits: LabelLimits | None = None
) -> CompiledOntology:
    """Precompute everything label validation needs from ``definition``; ``limits``: the size
    caps labels are held to (default ``LabelLimits()``, see ``labelops_ontologykit.limits``).

    Raises ``InvalidArgument`` (reason ``INVALID_ONTOLOGY``, one field violation per problem,
    see ``validate_definition``) when the definition itself is not well-formed. The result is
    immutable and safe to share between tasks and threads.
    """
    violations = _validate_definition(definition)
    if violations:
        raise InvalidArgument(
            f"ontology definition is invalid ({len(violations)} problems)",
            violations,
            reason="INVALID_ONTOLOGY",
        )
    return CompiledOntology(definition, limits=limits)


class CompiledOntology:
    """A validated, precomputed ontology version. Build it with ``compile_ontology``."""

    def __init__(
        self, definition: definition_pb2.OntologyDefinition, *, limits: LabelLimits | None = None
    ) -> None:
        # Callers go through compile_ontology, which validates first; the tables below assume
        # a well-formed definition (unique ids, known kinds).
        #: The definition this was compiled from (do not mutate it).
        self.definition = definition
        #: Size caps of labels (reported as ``TOO_LARGE`` issues).
        self.limits = limits or LabelLimits()
        classes: dict[str, _ClassSpec] = {}
        all_choices: dict[str, _Choice] = {}
        required_top: dict[str, list[str]] = {}
        option_required: dict[str, dict[str, list[str]]] = {}
        items = index(definition)
        for node in walk(definition):
            if node.kind == CLASS:
                classes[node.id] = _ClassSpec(node.msg)
                required_top[node.id] = []
                option_required[node.id] = {}
            elif node.kind == CLASSIFICATION:
                parent = items[node.parent_id] if node.parent_id is not None else None
                parent_option = (
                    node.parent_id if parent is not None and parent.kind == OPTION else None
                )
                c = node.msg
                choice = _Choice(c, node.class_id or "", parent_option)
                spec = classes[node.class_id or ""]
                spec.choices[choice.id] = choice
                for oid in choice.options:
                    spec.option_owner[oid] = choice.id
                all_choices[choice.id] = choice
                if parent_option is not None:
                    spec.has_nested = True
                # A required classification under a deprecated option (or itself deprecated)
                # cannot be required: the option can no longer be selected validly.
                if c.required and not c.deprecated:
                    if parent_option is None:
                        required_top[node.class_id or ""].append(choice.id)
                    elif not items[parent_option].msg.deprecated:
                        option_required[node.class_id or ""].setdefault(parent_option, []).append(
                            choice.id
                        )
        for cid, spec in classes.items():
            spec.required_top = tuple(required_top[cid])
            spec.option_required = {k: tuple(v) for k, v in option_required[cid].items()}
        self._classes = classes
        self._all_choices = all_choices
        self._rels: dict[str, _RelSpec] = {r.id: _RelSpec(r) for r in definition.relationships}

    @property
    def class_ids(self) -> frozenset[str]:
        """Ids of every class of this version (deprecated ones included)."""
        return frozenset(self._classes)

    def validate_item(self, item: label_pb2.ItemLabels) -> list[LabelIssue]:
        """Problems of one item's labels (``item_index`` 0); empty when all are valid."""
        issues: list[LabelIssue] = []
        self._validate_item(item, 0, issues)
        return issues

    def validate_items(self, items: Sequence[label_pb2.ItemLabels]) -> list[LabelIssue]:
        """Problems of every label of every item, in item then label order.

        Never raises on malformed labels: every problem is a ``LabelIssue`` (reasons in
        ``labelops_ontologykit.reasons``; the README has the full table).
        """
        issues: list[LabelIssue] = []
        v = self._validate_item
        for ii, item in enumerate(items):
            v(item, ii, issues)
        return issues

    # --- hot path ---------------------------------------------------------------------------

    def _validate_item(self, item: label_pb2.ItemLabels, ii: int, issues: list[LabelIssue]) -> None:
        ctx = item.item
        w = ctx.width
        h = ctx.height
        # Upper bounds once per item; "unknown" (<= 0) becomes BIG so the same comparison
        # still rejects NaN and infinity.
        hx = w + BOUNDS_TOLERANCE if w > 0 else BIG
        hy = h + BOUNDS_TOLERANCE if h > 0 else BIG
        classes = self._classes
        ids: dict[str, int] | None = None
        lim = self.limits
        labels = capped(item.labels, lim.max_labels_per_item, ii, "labels", "labels", issues)
        for li, label in enumerate(labels):
            lid = label.label_id
            if lid:
                if ids is None:
                    ids = {lid: li}
                elif lid in ids:
                    _duplicate_id(lid, ids[lid], ii, li, issues)
                else:
                    ids[lid] = li
            g = label.WhichOneof("geometry")
            sized = g in _SIZED or label.answers or len(lid) > lim.max_label_id_chars
            if sized and label_too_large(label, g, lim, ii, li, issues):
                continue
            spec = classes.get(label.class_id)
            if spec is None:
                self._unknown_class(label, ii, li, issues)
                continue
            if spec.deprecated:
                issues.append(
                    LabelIssue(
                        ii, li, "class_id", f"class {spec.id!r} is deprecated", R.DEPRECATED_CLASS
                    )
                )
            if g == spec.gname:
                check = spec.check
                if check is not None:
                    check(label, spec, hx, hy, ctx, issues, ii, li)
            elif not (g is None and spec.gname == "whole_item"):
                # (A whole-item class accepts an absent geometry: WholeItem carries no data,
                # and clients that drop empty messages would otherwise be rejected.)
                _geometry_mismatch(spec, g, ii, li, issues)
            answers = label.answers
            if answers:
                _check_answers(spec, answers, self._all_choices, ii, li, issues)
            elif spec.required_top:
                _missing_answers(spec, (), ii, li, issues)
            attrs = label.attributes
            if attrs:
                _check_attributes(spec, attrs, ii, li, issues)
            elif spec.required_attrs:
                for r in spec.required_attrs:
                    issues.append(
                        LabelIssue(
                            ii,
                            li,
                            f"attributes[{r}]",
                            f"required attribute {r!r} is missing",
                            R.MISSING_REQUIRED,
                        )
                    )
            c = label.confidence
            if not 0.0 <= c <= 1.0:
                issues.append(
                    LabelIssue(
                        ii,
                        li,
                        "confidence",
                        f"confidence {c} must be in [0, 1]",
                        R.INVALID_CONFIDENCE,
                    )
                )
        rels = item.relations
        if rels:
            rels = capped(rels, lim.max_relations_per_item, ii, "relations", "relations", issues)
            self._check_relations(rels, labels, ids or {}, ii, issues)

    # --- slow paths and rarer checks --------------------------------------------------------

    def _unknown_class(
        self, label: label_pb2.Label, ii: int, li: int, issues: list[LabelIssue]
    ) -> None:
        cid = label.class_id
        desc = f"no class with id {cid!r} in this ontology version" if cid else "class_id is empty"
        issues.append(LabelIssue(ii, li, "class_id", desc, R.UNKNOWN_CLASS))

    def _check_relations(
        self, rels: Any, labels: Any, ids: dict[str, int], ii: int, issues: list[LabelIssue]
    ) -> None:
        specs = self._rels
        seen: set[tuple[str, str, str]] = set()
        outs: dict[tuple[str, str], int] = {}
        ins: dict[tuple[str, str], int] = {}
        for ri, r in enumerate(rels):
            rid = r.relationship_id
            f = r.from_label_id
            t = r.to_label_id
            prefix = f"relations[{ri}]"
            spec = specs.get(rid)
            if spec is None:
                _illegal_relation(
                    ii, f"{prefix}.relationship_id", f"no relationship with id {rid!r}", issues
                )
                continue
            if spec.deprecated:
                _illegal_relation(
                    ii, f"{prefix}.relationship_id", f"relationship {rid!r} is deprecated", issues
                )
            ok = True
            for end, lid, want in (("from", f, spec.from_class), ("to", t, spec.to_class)):
                li = ids.get(lid) if lid else None
                if li is None:
                    _illegal_relation(
                        ii,
                        f"{prefix}.{end}_label_id",
                        f"no label with id {lid!r} in this item",
                        issues,
                    )
                    ok = False
                    continue
                got = labels[li].class_id
                if got != want:
                    _illegal_relation(
                        ii,
                        f"{prefix}.{end}_label_id",
                        f"relationship {rid!r} needs a {want!r} label at its {end} end, "
                        f"label {lid!r} is {got!r}",
                        issues,
                    )
                    ok = False
            if not ok:
                continue
            key = (rid, f, t)
            if key in seen:
                _illegal_relation(
                    ii, prefix, f"relation {rid!r} {f!r} -> {t!r} is listed twice", issues
                )
                continue
            seen.add(key)
            if spec.out_one:
                k = (rid, f)
                if k in outs:
                    _illegal_relation(
                        ii,
                        f"{prefix}.from_label_id",
                        f"relationship {rid!r} is {spec.cardinality}: label {f!r} already "
                        f"has one in relations[{outs[k]}]",
                        issues,
                    )
                else:
                    outs[k] = ri
            if spec.in_one:
                k = (rid, t)
                if k in ins:
                    _illegal_relation(
                        ii,
                        f"{prefix}.to_label_id",
                        f"relationship {rid!r} is {spec.cardinality}: label {t!r} already "
                        f"has one in relations[{ins[k]}]",
                        issues,
                    )
                else:
                    ins[k] = ri


#: Geometries whose size ``label_too_large`` checks (the others are fixed-size or capped by
#: the request validator).
_SIZED = frozenset({"polygon", "polyline"})


def _duplicate_id(lid: str, first: int, ii: int, li: int, issues: list[LabelIssue]) -> None:
    desc = f"label id {lid!r} is already used by label {first}"
    issues.append(LabelIssue(ii, li, "label_id", desc, R.DUPLICATE_LABEL_ID))


def _geometry_mismatch(
    spec: _ClassSpec, got: str | None, ii: int, li: int, issues: list[LabelIssue]
) -> None:
    if got is None:
        issues.append(
            LabelIssue(
                ii,
                li,
                "geometry",
                f"class {spec.id!r} needs a {spec.gname} geometry, the label has none",
                R.MISSING_GEOMETRY,
            )
        )
    else:
        issues.append(
            LabelIssue(
                ii,
                li,
                f"geometry.{got}",
                f"class {spec.id!r} needs a {spec.gname} geometry, got {got}",
                R.GEOMETRY_MISMATCH,
            )
        )


def _illegal_relation(ii: int, field: str, desc: str, issues: list[LabelIssue]) -> None:
    issues.append(LabelIssue(ii, -1, field, desc, R.ILLEGAL_RELATION))

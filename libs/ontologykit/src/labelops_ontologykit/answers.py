"""Label validation of answers (classifications) and attributes: the per-label hot path of
``CompiledOntology.validate_items`` after the geometry.

The checks read each protobuf field once into a local and build strings only for labels that
are wrong: every issue of the answer checks is made by a small helper below, called on the
error path only, so a valid label costs no call beyond the checks themselves.
"""

from __future__ import annotations

from typing import Any

from labelops.ontology.v1 import definition_pb2

from . import reasons as R
from .issues import LabelIssue
from .specs import (
    _A_ENUM,
    _A_FLOAT,
    _A_INT,
    _A_STRING,
    _CHECKLIST,
    _EXPECTED_ANSWER,
    _NUMBER,
    _RADIO,
    _TEXT,
    _Choice,
    _ClassSpec,
    _Range,
)


def _check_answers(
    spec: _ClassSpec,
    answers: Any,
    all_choices: dict[str, _Choice],
    ii: int,
    li: int,
    issues: list[LabelIssue],
) -> None:
    choices = spec.choices
    answered: dict[str, int] = {}
    # Options chosen by valid answers. A list, not a set: 1-3 entries, deterministic order.
    # Option ids are unique across the ontology and each option belongs to one
    # classification, so "selected anywhere" equals "selected by the parent's answer".
    selected: list[str] = []
    nested: list[tuple[int, _Choice]] | None = None
    for ai, a in enumerate(answers):
        cid = a.classification_id
        c = choices.get(cid)
        if c is None:
            _unknown_classification(spec, cid, all_choices, ii, li, ai, issues)
            continue
        if cid in answered:
            _duplicate_answer(cid, answered[cid], ii, li, ai, issues)
            continue
        answered[cid] = ai
        if c.deprecated:
            _deprecated_classification(cid, ii, li, ai, issues)
        if c.parent_option is not None:
            if nested is None:
                nested = [(ai, c)]
            else:
                nested.append((ai, c))
        which = a.WhichOneof("value")
        k = c.kind
        if k == _RADIO:
            if which == "option_id":
                oid = a.option_id
                dep = c.options.get(oid)
                if dep is None:
                    _not_an_option(cid, oid, f"answers[{ai}].option_id", ii, li, issues)
                else:
                    selected.append(oid)
                    if dep:
                        _deprecated_option(oid, f"answers[{ai}].option_id", ii, li, issues)
                continue
        elif k == _CHECKLIST:
            if which == "checklist":
                _check_checklist(c, a.checklist.option_ids, selected, ii, li, ai, issues)
                continue
        elif k == _TEXT:
            if which == "text":
                if c.checks_text:
                    p = c.text.problem(a.text)
                    if p is not None:
                        _invalid_answer(f"answers[{ai}].text", p, ii, li, issues)
                continue
        elif k == _NUMBER:
            if which == "number":
                x = a.number
                rng = c.number
                if not rng.lo <= x <= rng.hi or (rng.integer_only and x != int(x)):
                    _bad_number(rng, x, ii, li, ai, issues)
                continue
        _wrong_kind(cid, k, which, ii, li, ai, issues)
    if nested is not None:
        for _, c in nested:
            if c.parent_option not in selected:
                selected = _illegal_nesting(spec, nested, selected, ii, li, issues)
                break
    for r in spec.required_top:
        if r not in answered:
            _missing_required(r, ii, li, issues)
    oreq = spec.option_required
    if oreq and selected:
        for oid in selected:
            rs = oreq.get(oid)
            if rs:
                for r in rs:
                    if r not in answered:
                        _missing_under_option(r, oid, ii, li, issues)


# --- the issues of the answer checks (error path only) ----------------------------------------


def _duplicate_answer(
    cid: str, first: int, ii: int, li: int, ai: int, issues: list[LabelIssue]
) -> None:
    issues.append(
        LabelIssue(
            ii,
            li,
            f"answers[{ai}].classification_id",
            f"classification {cid!r} is already answered in answers[{first}]",
            R.DUPLICATE_ANSWER,
        )
    )


def _deprecated_classification(
    cid: str, ii: int, li: int, ai: int, issues: list[LabelIssue]
) -> None:
    issues.append(
        LabelIssue(
            ii,
            li,
            f"answers[{ai}].classification_id",
            f"classification {cid!r} is deprecated",
            R.DEPRECATED_CLASSIFICATION,
        )
    )


def _not_an_option(
    cid: str, oid: str, field: str, ii: int, li: int, issues: list[LabelIssue]
) -> None:
    issues.append(
        LabelIssue(
            ii,
            li,
            field,
            f"{oid!r} is not an option of classification {cid!r}",
            R.INVALID_ANSWER,
        )
    )


def _deprecated_option(oid: str, field: str, ii: int, li: int, issues: list[LabelIssue]) -> None:
    issues.append(LabelIssue(ii, li, field, f"option {oid!r} is deprecated", R.DEPRECATED_OPTION))


def _invalid_answer(field: str, problem: str, ii: int, li: int, issues: list[LabelIssue]) -> None:
    issues.append(LabelIssue(ii, li, field, problem, R.INVALID_ANSWER))


def _bad_number(rng: _Range, x: float, ii: int, li: int, ai: int, issues: list[LabelIssue]) -> None:
    """The answer's number failed the fast range check: report why (if it really is out)."""
    p = rng.problem(x)
    if p is not None:
        _invalid_answer(f"answers[{ai}].number", p, ii, li, issues)


def _wrong_kind(
    cid: str, k: int, which: str | None, ii: int, li: int, ai: int, issues: list[LabelIssue]
) -> None:
    """The answer's value does not fit the classification's kind."""
    want = _EXPECTED_ANSWER.get(k, "?")
    issues.append(
        LabelIssue(
            ii,
            li,
            f"answers[{ai}]" if which is None else f"answers[{ai}].{which}",
            f"classification {cid!r} expects an answer in {want!r}, got {which or 'no value'}",
            R.INVALID_ANSWER,
        )
    )


def _missing_required(r: str, ii: int, li: int, issues: list[LabelIssue]) -> None:
    issues.append(
        LabelIssue(
            ii,
            li,
            "answers",
            f"required classification {r!r} is not answered",
            R.MISSING_REQUIRED,
        )
    )


def _missing_under_option(r: str, oid: str, ii: int, li: int, issues: list[LabelIssue]) -> None:
    issues.append(
        LabelIssue(
            ii,
            li,
            "answers",
            f"classification {r!r} is required when option {oid!r} is selected",
            R.MISSING_REQUIRED,
        )
    )


def _illegal_nesting(
    spec: _ClassSpec,
    nested: list[tuple[int, _Choice]],
    selected: list[str],
    ii: int,
    li: int,
    issues: list[LabelIssue],
) -> list[str]:
    """Report illegally nested answers; return the selections that still count.

    An answer that should not be there selects nothing: options it selects neither make
    answers under them legal nor make classifications under them required (transitively).
    """
    illegal: set[str] = set()
    legal = selected
    changed = True
    while changed:
        changed = False
        for _, c in nested:
            if c.id not in illegal and c.parent_option not in legal:
                illegal.add(c.id)
                changed = True
        owner = spec.option_owner
        legal = [o for o in selected if owner.get(o) not in illegal]
    for ai, c in nested:
        if c.id in illegal:
            issues.append(
                LabelIssue(
                    ii,
                    li,
                    f"answers[{ai}].classification_id",
                    f"classification {c.id!r} is asked only when option "
                    f"{c.parent_option!r} is selected",
                    R.ILLEGAL_NESTING,
                )
            )
    return legal


def _missing_answers(
    spec: _ClassSpec, answered: Any, ii: int, li: int, issues: list[LabelIssue]
) -> None:
    for r in spec.required_top:
        if r not in answered:
            _missing_required(r, ii, li, issues)


def _check_checklist(
    c: _Choice,
    oids: Any,
    selected: list[str],
    ii: int,
    li: int,
    ai: int,
    issues: list[LabelIssue],
) -> None:
    opts = c.options
    n = 0
    for i, oid in enumerate(oids):
        dep = opts.get(oid)
        if dep is None:
            _not_an_option(c.id, oid, f"answers[{ai}].checklist.option_ids[{i}]", ii, li, issues)
            continue
        if oid in selected:
            issues.append(
                LabelIssue(
                    ii,
                    li,
                    f"answers[{ai}].checklist.option_ids[{i}]",
                    f"option {oid!r} is selected twice",
                    R.INVALID_ANSWER,
                )
            )
            continue
        selected.append(oid)
        n += 1
        if dep:
            _deprecated_option(oid, f"answers[{ai}].checklist.option_ids[{i}]", ii, li, issues)
    if n < c.min_sel or (c.max_sel and n > c.max_sel):
        limits = f"at least {c.min_sel}" if n < c.min_sel else f"at most {c.max_sel}"
        issues.append(
            LabelIssue(
                ii,
                li,
                f"answers[{ai}].checklist.option_ids",
                f"{n} options selected, classification {c.id!r} needs {limits}",
                R.INVALID_ANSWER,
            )
        )


def _unknown_classification(
    spec: _ClassSpec,
    cid: str,
    all_choices: dict[str, _Choice],
    ii: int,
    li: int,
    ai: int,
    issues: list[LabelIssue],
) -> None:
    other = all_choices.get(cid)
    if other is not None:
        desc = f"classification {cid!r} belongs to class {other.class_id!r}, not {spec.id!r}"
    else:
        desc = f"no classification with id {cid!r} in this ontology version"
    issues.append(
        LabelIssue(ii, li, f"answers[{ai}].classification_id", desc, R.UNKNOWN_CLASSIFICATION)
    )


def _check_attributes(
    spec: _ClassSpec, attrs: Any, ii: int, li: int, issues: list[LabelIssue]
) -> None:
    amap = spec.attrs
    start = len(issues)
    # Keys then lookups: about 40 % cheaper than .items() on upb maps (a Python-level view).
    for key in attrs:
        v = attrs[key]
        a = amap.get(key)
        if a is None:
            issues.append(
                LabelIssue(
                    ii,
                    li,
                    f"attributes[{key}]",
                    f"class {spec.id!r} has no attribute {key!r}",
                    R.UNKNOWN_ATTRIBUTE,
                )
            )
            continue
        which = v.WhichOneof("value")
        if which not in a.expected:
            issues.append(
                LabelIssue(
                    ii,
                    li,
                    f"attributes[{key}]",
                    f"attribute {key!r} is {definition_pb2.AttributeType.Name(a.type)}, "
                    f"got {which or 'no value'}",
                    R.INVALID_ATTRIBUTE,
                )
            )
            continue
        t = a.type
        p: str | None = None
        if t == _A_STRING:
            if a.text is not None:
                p = a.text.problem(v.string_value)
        elif t == _A_ENUM:
            s = v.string_value
            if s not in a.enum:
                p = f"{s!r} is not one of {sorted(a.enum)}"
        elif t == _A_INT or t == _A_FLOAT:
            x = v.int_value if which == "int_value" else v.float_value
            rng = a.number
            if not rng.lo <= x <= rng.hi or (rng.integer_only and x != int(x)):
                p = rng.problem(x)
        if p is not None:
            issues.append(LabelIssue(ii, li, f"attributes[{key}]", p, R.INVALID_ATTRIBUTE))
        if a.deprecated:
            issues.append(
                LabelIssue(
                    ii,
                    li,
                    f"attributes[{key}]",
                    f"attribute {key!r} is deprecated",
                    R.DEPRECATED_ATTRIBUTE,
                )
            )
    for r in spec.required_attrs:
        if r not in attrs:
            issues.append(
                LabelIssue(
                    ii,
                    li,
                    f"attributes[{r}]",
                    f"required attribute {r!r} is missing",
                    R.MISSING_REQUIRED,
                )
            )
    if len(issues) - start > 1:
        # Map iteration order is not part of the protobuf contract; keep reports stable.
        issues[start:] = sorted(issues[start:], key=lambda i: (i.field, i.reason))

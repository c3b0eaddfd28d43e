"""A label's answers and attributes as canonical JSON (the ``answers_json`` column; pure)."""

from __future__ import annotations

import json
import math
from typing import Any

from labelops.labels.v1 import label_pb2

#: ``answers_json`` of a label without answers or attributes, and of item-level rows.
EMPTY_ANSWERS_JSON = '{"answers":[],"attributes":{}}'


def _json_number(v: float) -> float | str:
    if math.isfinite(v):
        return v
    if math.isnan(v):
        return "NaN"
    return "Infinity" if v > 0 else "-Infinity"


def _answer(a: label_pb2.Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"classification_id": a.classification_id}
    which = a.WhichOneof("value")
    if which == "option_id":
        out["option_id"] = a.option_id
    elif which == "checklist":
        out["checklist"] = list(a.checklist.option_ids)
    elif which == "text":
        out["text"] = a.text
    elif which == "number":
        out["number"] = _json_number(a.number)
    return out


def _attribute(v: label_pb2.AttributeValue) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which == "int_value":
        return v.int_value
    if which == "float_value":
        return _json_number(v.float_value)
    if which == "bool_value":
        return v.bool_value
    return None


def answers_json(label: label_pb2.Label) -> str:
    """The label's answers and attributes as canonical JSON (see the module docstring)."""
    if not label.answers and not label.attributes:
        return EMPTY_ANSWERS_JSON
    doc = {
        "answers": [_answer(a) for a in label.answers],
        "attributes": {k: _attribute(v) for k, v in label.attributes.items()},
    }
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )

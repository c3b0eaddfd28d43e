"""Label Studio tasks JSON with pre-filled annotations, and a matching labeling config."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

import pyarrow as pa

from .common import (
    NO_LABEL,
    Export,
    _box,
    _exportable,
    _items,
    _json,
    _polygon,
    _Row,
    _rows,
    _Tally,
    class_index,
)

#: Geometry kinds Label Studio gets; every other labeled kind is skipped and counted.
LABEL_STUDIO_KINDS = frozenset({"box", "polygon", "whole_item"})

# Label Studio control names used in results and in the generated labeling config; results are
# only accepted by Label Studio if their from_name/to_name match the config's tags.
_LS_IMAGE = "image"
_LS_RECT = "label"
_LS_POLY = "polygon"
_LS_CHOICE = "choice"
#: Prefixes of the per-region controls of answers (by classification id) and attributes.
_LS_ANSWER = "answer."
_LS_ATTRIBUTE = "attribute."
#: geometry kind -> (control name, result type) of the region results.
_LS_REGION = {"box": (_LS_RECT, "rectanglelabels"), "polygon": (_LS_POLY, "polygonlabels")}


# --------------------------------------------------------------------------------------------
# Label Studio


def to_label_studio(table: pa.Table, *, classes: Sequence[str] | None = None) -> Export:
    """Label Studio import: ``tasks.json`` (tasks with annotations) and ``label_config.xml``.

    One task per item (``id`` 1-based over sorted item_id), ``data`` = {"image": item_uri,
    "item_id", "split"}, and one annotation whose ``result`` holds:

    - box rows: ``rectanglelabels`` with x / y / width / height in percent of the image size
      (Label Studio's unit), ``rotation`` 0;
    - polygon rows: ``polygonlabels`` with ``points`` [[x%, y%], ...], ``closed`` true;
    - whole_item rows: one ``choices`` result per task listing its classes in class order.

    - relations (the ``relations`` column) between two regions written: ``relation`` results
      (``from_id`` / ``to_id`` the regions, ``direction`` "right", ``labels`` [relationship
      id]), after the task's regions; one whose region was not written (another kind, a
      whole-item label, unknown size) is counted in ``stats["relations_skipped"]``, the
      written ones in ``stats["relations"]``.

    - a region's answers and attributes: per-region results right after the region (same
      ``id``, the region's geometry in ``value``, as Label Studio writes them), in the label's
      order, so a nested answer follows the answer whose option opens it:
        radio      ``choices`` from ``answer.<classification id>``, ``value.choices`` [option]
        checklist  ``choices`` from ``answer.<classification id>``, the option ids
        text       ``textarea`` from ``answer.<classification id>``, ``value.text`` [text]
        number     ``number`` from ``answer.<classification id>``, ``value.number``
        attribute  from ``attribute.<attribute id>``: string → ``textarea``, int / float →
                   ``number``, bool → ``choices`` ["true"] / ["false"]
      Answers and attributes of whole-item labels are not written (no region to hang them
      on): ``stats["details_skipped"]`` counts those labels.

    Regions carry ``original_width`` / ``original_height``; rows of images of unknown size are
    skipped (``unknown_size``), as are other kinds (Label Studio's brush RLE is not COCO's).
    Items without labels get an annotation with an empty result: reviewed, nothing to mark.
    Region ids are the label ids (deduplicated per task). ``label_config.xml`` declares the
    controls the results refer to (``image`` / ``label`` / ``polygon`` / ``choice``, every
    ``answer.*`` / ``attribute.*`` control as a ``perRegion`` ``Choices`` (with the options
    written) / ``TextArea`` / ``Number``, and ``Relations`` with every relationship id written)
    with all classes, so the tasks import into a project created with it. Which option opens a
    nested classification is the ontology's, not in the table: the config shows every
    classification of a region, and the nesting is in the results' order.
    """
    names = class_index(table, classes)
    cls = {name: i for i, name in enumerate(names)}
    rows = _rows(table)
    items = _items(rows)
    by_item: dict[str, list[_Row]] = {it.item_id: [] for it in items}
    for r in rows:
        by_item[r.item_id].append(r)
    out = _Results(cls)
    tasks = [
        {
            "id": n,
            "data": {"image": it.item_uri, "item_id": it.item_id, "split": it.split},
            "annotations": [{"result": out.result(by_item[it.item_id])}],
        }
        for n, it in enumerate(items, start=1)
    ]
    config = _ls_config(names, out.used or {_LS_RECT}, out.multi_choice, sorted(out.relationships))
    files = {"label_config.xml": _with_controls(config, out.controls), "tasks.json": _json(tasks)}
    stats = out.tally.stats(len(items), out.written)
    stats.update(
        relations=out.relations,
        relations_skipped=out.relations_skipped,
        details_skipped=out.details_skipped,
    )
    return Export(files=files, format="label_studio", stats=stats)


class _Results:
    """The annotation results of each task, and what they add up to over the export."""

    def __init__(self, cls: dict[str, int]) -> None:
        self.cls = cls
        self.tally = _Tally()
        self.written = 0
        self.used: set[str] = set()
        self.multi_choice = False
        self.relationships: set[str] = set()
        self.relations = 0
        self.relations_skipped = 0
        self.details_skipped = 0
        #: Per-region control name → (tag, multiple choice, options) (``_with_controls``).
        self.controls: dict[str, _Control] = {}

    def result(self, rows: list[_Row]) -> list[dict[str, Any]]:
        """One task's ``result``: its regions in row order, then its whole-item choices."""
        result: list[dict[str, Any]] = []
        region_ids: Counter[str] = Counter()
        choices: list[str] = []
        region_of: dict[str, str] = {}  # label id -> its region's id (the first, if several)
        for r in rows:
            if r.kind == NO_LABEL or not _exportable(r, LABEL_STUDIO_KINDS, self.cls, self.tally):
                continue
            if r.kind == "whole_item":
                choices.append(r.class_id)
                self.written += 1
                self.details_skipped += r.has_details
                continue
            region = self._region(r, len(result) + 1, region_ids)
            if region is not None:
                result.append(region)
                result += self._details(r, region)
                region_of.setdefault(r.label_id, region["id"])
        result += self._relations(rows, region_of)
        if choices:
            distinct = sorted(set(choices), key=self.cls.__getitem__)
            self.multi_choice = self.multi_choice or len(distinct) > 1
            result.append(
                {
                    "id": "choices",
                    "type": "choices",
                    "from_name": _LS_CHOICE,
                    "to_name": _LS_IMAGE,
                    "value": {"choices": distinct},
                }
            )
            self.used.add(_LS_CHOICE)
        return result

    def _relations(self, rows: list[_Row], region_of: dict[str, str]) -> list[dict[str, Any]]:
        """The ``relation`` results of a task's relations between written regions."""
        out: list[dict[str, Any]] = []
        for r in rows:
            for rel in r.relations:
                a, b = region_of.get(rel["from_label_id"]), region_of.get(rel["to_label_id"])
                if a is None or b is None:
                    self.relations_skipped += 1
                    continue
                out.append(
                    {
                        "type": "relation",
                        "from_id": a,
                        "to_id": b,
                        "direction": "right",
                        "labels": [rel["relationship_id"]],
                    }
                )
                self.relationships.add(rel["relationship_id"])
                self.relations += 1
        return out

    def _details(self, r: _Row, region: dict[str, Any]) -> list[dict[str, Any]]:
        """The per-region results of a region's answers, then its attributes (sorted)."""
        kind = region["type"]
        where = {k: v for k, v in region["value"].items() if k != kind}
        out = []
        for answer in r.answers:
            name = f"{_LS_ANSWER}{answer['classification_id']}"
            out.append(self._detail(region, name, _answer_value(answer), where))
        for attribute_id, v in sorted(r.attributes.items()):
            out.append(
                self._detail(region, f"{_LS_ATTRIBUTE}{attribute_id}", _attr_value(v), where)
            )
        return out

    def _detail(
        self, region: dict[str, Any], name: str, value: tuple[str, Any], where: dict[str, Any]
    ) -> dict[str, Any]:
        """One per-region result, its control noted for the config."""
        tag, payload = value
        control = self.controls.setdefault(name, _Control(tag))
        if tag == "choices":
            control.options.update(payload["choices"])
            control.multiple = control.multiple or payload.pop("multiple")
        return {
            "id": region["id"],
            "type": tag,
            "from_name": name,
            "to_name": _LS_IMAGE,
            "original_width": region["original_width"],
            "original_height": region["original_height"],
            "image_rotation": 0,
            "value": {**where, **payload},
        }

    def _region(self, r: _Row, position: int, region_ids: Counter[str]) -> dict[str, Any] | None:
        """A box or polygon region, or None (counted) when it cannot be written."""
        if r.width <= 0 or r.height <= 0:
            self.tally.skip(r.kind, "unknown_size")
            return None
        value = _ls_value(r)
        if value is None:
            self.tally.skip(r.kind, "invalid_geometry")
            return None
        control, kind = _LS_REGION[r.kind]
        value[kind] = [r.class_id]
        rid = r.label_id or f"region{position}"
        region_ids[rid] += 1
        if region_ids[rid] > 1:
            rid = f"{rid}-{region_ids[rid]}"
        self.used.add(control)
        self.written += 1
        return {
            "id": rid,
            "type": kind,
            "from_name": control,
            "to_name": _LS_IMAGE,
            "original_width": r.width,
            "original_height": r.height,
            "image_rotation": 0,
            "value": value,
        }


@dataclass
class _Control:
    """A per-region control of the config: its tag (result type), whether a ``choices`` one
    takes several options, and the options written."""

    tag: str
    multiple: bool = False
    options: set[str] = field(default_factory=set)


def _answer_value(answer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(result type, value payload) of an answer (see ``to_label_studio``)."""
    if "checklist" in answer:
        return "choices", {"choices": list(answer["checklist"]), "multiple": True}
    if "text" in answer:
        return "textarea", {"text": [answer["text"]]}
    if "number" in answer:
        return "number", {"number": answer["number"]}
    return "choices", {"choices": [answer.get("option_id", "")], "multiple": False}


def _attr_value(v: Any) -> tuple[str, dict[str, Any]]:
    """(result type, value payload) of an attribute value (see ``to_label_studio``)."""
    if isinstance(v, bool):
        return "choices", {"choices": ["true" if v else "false"], "multiple": False}
    if isinstance(v, int | float):
        return "number", {"number": v}
    return "textarea", {"text": [str(v)]}


def _with_controls(config: bytes, controls: dict[str, _Control]) -> bytes:
    """The labeling config with the per-region controls, before ``</View>``."""
    lines = []
    for name, c in sorted(controls.items()):
        attrs = f'name={quoteattr(name)} toName="{_LS_IMAGE}" perRegion="true"'
        if c.tag == "choices":
            choice = "multiple" if c.multiple else "single"
            lines.append(f'  <Choices {attrs} choice="{choice}">')
            lines += [f"    <Choice value={quoteattr(o)}/>" for o in sorted(c.options)]
            lines.append("  </Choices>")
        else:
            lines.append(f"  <{'TextArea' if c.tag == 'textarea' else 'Number'} {attrs}/>")
    if not lines:
        return config
    head, _, _ = config.decode("utf-8").rpartition("</View>")
    return (head + "\n".join(lines) + "\n</View>\n").encode("utf-8")


def _ls_value(r: _Row) -> dict[str, Any] | None:
    """The percent-coordinate ``value`` of a box or polygon region, or None if invalid."""
    sx, sy = 100.0 / r.width, 100.0 / r.height
    if r.kind == "box":
        box = _box(r.bbox)
        if box is None:
            return None
        x, y, w, h = box
        return {"x": x * sx, "y": y * sy, "width": w * sx, "height": h * sy, "rotation": 0}
    poly = _polygon(r.polygon)
    if poly is None:
        return None
    points = [[poly[i] * sx, poly[i + 1] * sy] for i in range(0, len(poly), 2)]
    return {"points": points, "closed": True}


def _ls_config(
    names: Sequence[str], used: set[str], multi_choice: bool, relationships: Sequence[str] = ()
) -> bytes:
    """A Label Studio labeling config whose control names match the exported results."""

    def labels(tag: str) -> list[str]:
        return [f"    <{tag} value={quoteattr(n)}/>" for n in names]

    lines = ["<View>", f'  <Image name="{_LS_IMAGE}" value="$image"/>']
    if _LS_RECT in used:
        lines += [f'  <RectangleLabels name="{_LS_RECT}" toName="{_LS_IMAGE}">']
        lines += [*labels("Label"), "  </RectangleLabels>"]
    if _LS_POLY in used:
        lines += [f'  <PolygonLabels name="{_LS_POLY}" toName="{_LS_IMAGE}">']
        lines += [*labels("Label"), "  </PolygonLabels>"]
    if _LS_CHOICE in used:
        choice = "multiple" if multi_choice else "single"
        lines += [f'  <Choices name="{_LS_CHOICE}" toName="{_LS_IMAGE}" choice="{choice}">']
        lines += [*labels("Choice"), "  </Choices>"]
    if relationships:
        lines += ["  <Relations>"]
        lines += [f"    <Relation value={quoteattr(r)}/>" for r in relationships]
        lines += ["  </Relations>"]
    lines.append("</View>")
    return ("\n".join(lines) + "\n").encode("utf-8")

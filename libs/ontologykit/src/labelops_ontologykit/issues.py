"""``LabelIssue``: one problem of one label (or item), as the validator reports it."""

from __future__ import annotations

from dataclasses import dataclass

from labelops.ontology.v1 import ontology_pb2


@dataclass(frozen=True, slots=True)
class LabelIssue:
    """One violation; maps 1:1 to ``labelops.ontology.v1.LabelViolation``.

    ``item_index`` is the index of the item in the validated batch, ``label_index`` the index
    of the label in that item (-1 for item-level problems: relations), ``field`` the path inside
    the label (``geometry.box.width``, ``answers[1].option_id``, ``attributes[color]``) or the
    item (``relations[0].to_label_id``), ``reason`` one of ``labelops_ontologykit.reasons``.
    """

    item_index: int
    label_index: int
    field: str
    description: str
    reason: str

    def to_proto(self) -> ontology_pb2.LabelViolation:
        """The wire form (``ValidateLabelsResponse.violations``)."""
        return ontology_pb2.LabelViolation(
            item_index=self.item_index,
            label_index=self.label_index,
            field=self.field,
            description=self.description,
            reason=self.reason,
        )

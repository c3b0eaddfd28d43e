"""Conversions between the domain's records and the prelabel protos (pure, no I/O), and the
item's class as item classifiers see it."""

from __future__ import annotations

from collections import Counter

from labelops.labels.v1 import label_pb2 as L
from labelops.prelabel.v1 import prelabel_pb2 as pb

from .models import HeldOutMetrics, ModelKind
from .roi import ClassRoi

KINDS = {
    pb.MODEL_KIND_LOGISTIC: "logistic",
    pb.MODEL_KIND_KNN_PROPAGATION: "knn_propagation",
    pb.MODEL_KIND_EXTERNAL: "external",
}
KIND_PB = {v: k for k, v in KINDS.items()}
BUILTIN = {"logistic": ModelKind.LOGISTIC, "knn_propagation": ModelKind.KNN_PROPAGATION}
STRATEGIES = {
    pb.SCORE_STRATEGY_UNSPECIFIED: "entropy",
    pb.SCORE_STRATEGY_LEAST_CONFIDENCE: "least_confidence",
    pb.SCORE_STRATEGY_MARGIN: "margin",
    pb.SCORE_STRATEGY_ENTROPY: "entropy",
}
DIVERSITIES = {
    pb.DIVERSITY_UNSPECIFIED: "k_center",
    pb.DIVERSITY_NONE: "none",
    pb.DIVERSITY_K_CENTER: "k_center",
    pb.DIVERSITY_CLUSTER_BALANCED: "cluster",
}


def metrics_pb(m: HeldOutMetrics) -> pb.HeldOutMetrics:
    out = pb.HeldOutMetrics(
        available=m.available,
        accuracy=m.accuracy or 0.0,
        macro_f1=m.macro_f1 or 0.0,
        train_size=m.n_train,
        test_size=m.n_holdout,
        note=m.note,
    )
    for c, r in m.per_class_recall.items():
        out.per_class_recall[str(c)] = float(r)
    return out


def roi_pb(stats: ClassRoi, enabled: bool, reason: str) -> pb.ClassRoi:
    out = pb.ClassRoi(
        class_id=stats.class_id,
        enabled=enabled,
        prelabeled=stats.n_prelabeled,
        from_scratch=stats.n_scratch,
        accepted=stats.accepted,
        edited=stats.edited,
        replaced=stats.replaced,
        reason=reason,
    )
    for name, value in (
        ("acceptance_rate", stats.acceptance_rate),
        ("median_prelabeled_s", stats.median_prelabeled_s),
        ("median_scratch_s", stats.median_scratch_s),
        ("saving_s", stats.saving_s),
        ("saving_low_s", stats.saving_low_s),
        ("saving_high_s", stats.saving_high_s),
    ):
        if value is not None:
            setattr(out, name, float(value))
    return out


def primary_class(labels: L.ItemLabels) -> str:
    """The item's class for item classifiers: its whole-item label's class, else its most
    frequent label class ("" without labels). Ties go to the class seen first."""
    for lbl in labels.labels:
        if lbl.WhichOneof("geometry") == "whole_item" and lbl.class_id:
            return str(lbl.class_id)
    counts = Counter(lbl.class_id for lbl in labels.labels if lbl.class_id)
    if not counts:
        return ""
    return str(counts.most_common(1)[0][0])


def primary_geometry(labels: L.ItemLabels, class_id: str) -> str:
    """The geometry kind behind the item's class (``primary_class``): "whole_item" when a
    whole-item label gives it, else the most frequent geometry of that class's labels ("box",
    "polygon", ...; "" without any). Ties go to the geometry seen first."""
    kinds = [lbl.WhichOneof("geometry") or "" for lbl in labels.labels if lbl.class_id == class_id]
    if "whole_item" in kinds:
        return "whole_item"
    counts = Counter(k for k in kinds if k)
    return str(counts.most_common(1)[0][0]) if counts else ""

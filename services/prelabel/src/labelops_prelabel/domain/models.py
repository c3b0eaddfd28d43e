"""Built-in CPU models: train on labeled embeddings, predict class probabilities (pure sklearn).

The prelabel service retrains a project's built-in model from its ``LabelAccepted`` events
every N labels (``RetrainPolicy``), publishes each training as a new model version with
held-out metrics, serves ``predict_proba`` as pre-labels and active-learning scores, and hands
``out_of_sample_proba`` to QA's confident-learning label-error detection. This module is the
math only: arrays in, arrays and plain records out, no I/O.

Public API
----------
- ``ModelKind``: ``LOGISTIC`` (standardized embeddings -> multinomial logistic regression) or
  ``KNN_PROPAGATION`` (label spreading over a k-nearest-neighbour graph of labeled *and*
  unlabeled embeddings, Zhou et al. 2004; sklearn's ``LabelSpreading(kernel="knn")``).
- ``train(kind, X_labeled, y_labeled, classes=..., X_unlabeled=None, holdout=0.2, seed=0)``
  -> ``TrainedModel``: held-out metrics first, then a refit on *all* labeled data (the
  published model is the better one; the metrics estimate it conservatively).
- ``TrainedModel.predict_proba(X)`` -> ``(n, len(classes))``, columns in the *given* class
  order; ``.version``, ``.metrics``, ``.to_bytes()`` / ``TrainedModel.from_bytes()``.
- ``out_of_sample_proba(kind, X, y, classes=..., folds=5, seed=0)``: cross-validated
  probabilities, every row predicted by a model that never saw that row's label.
- ``RetrainPolicy(every_n_labels=100, min_labels=20).due(labels_now, labels_at_last_training)``.

Classes and columns
-------------------
``classes`` is the ontology's class list (str or int labels, unique); ``y`` holds labels from
it (anything else is a ``ValueError``). Probability columns always follow ``classes``, also for
classes the training data never contained: their column is exactly 0, because a model cannot
have evidence for a class it never saw (QA and pre-labels index columns by class position, so
the shape must not depend on which classes happen to be labeled yet). Rows sum to 1.
With a single class in the training data there is nothing to discriminate: the model is the
constant "that class, probability 1" (sklearn's classifiers refuse one class).

Held-out metrics (``HeldOutMetrics``)
-------------------------------------
A seeded stratified split of the labeled data: from each class with at least 2 examples,
``round(holdout * n_c)`` items clipped to ``[1, n_c - 1]`` are held out, so every such class is
both trained on and evaluated. Classes with a single example stay in the training part (they
cannot be evaluated without being unseen; their recall is absent from ``per_class_recall``).
``accuracy`` is over the held-out items, ``macro_f1`` is sklearn's macro F1 over the classes
present in the held-out part, ``per_class_recall`` maps each of those classes to its recall.
When no class has 2 examples or ``holdout == 0`` the metrics are marked unavailable
(``available=False``, the numbers ``None``, ``note`` says why) rather than computed from a
split that would leave classes unseen or from training accuracy (which flatters every model).
For ``KNN_PROPAGATION`` the held-out items are left out of the graph entirely, i.e. the
metrics measure inductive prediction of new items, the conservative reading.

Out-of-sample probabilities
---------------------------
``StratifiedKFold(min(folds, m), shuffle=True, random_state=seed)`` with m the size of the
largest class (sklearn refuses more folds than that; when every class has a single item, a
plain shuffled ``KFold(min(folds, n))``): each fold is predicted by a model trained on the
other folds. A class with fewer examples than folds is spread over fewer
folds (sklearn warns about it; the warning is silenced here because the behaviour is the
documented fallback). A class with a single example is, in its own fold, a class the model
never saw: its item gets probability 0 for its given label. That is the honest answer (there is
no out-of-sample evidence for it) and confident learning will flag it, which for a class with
one example is a reasonable request for a second look.

Measured (tests/unit/test_prelabel_models.py, scikit-learn digits as embeddings)
-------------------------------------------------------------------------------
- LOGISTIC on 500 labels: held-out accuracy 0.93-0.96 (seeds 0-2), 0.95 on the other 1,297.
- 100 labels, 397 test items: LOGISTIC 0.88-0.90; KNN_PROPAGATION with the other 1,300 items
  as unlabeled graph nodes 0.92-0.97, ahead on every seed (the pool's cluster structure is
  what 100 labels alone cannot show).
- 10 % injected label flips, 5-fold ``out_of_sample_proba`` fed to cleanlab's
  ``find_label_issues``: LOGISTIC precision 0.77-0.78 / recall 0.86-0.90, KNN_PROPAGATION
  precision 0.93-0.96 / recall 0.905 (3 seeds).

Cost: LOGISTIC is O(n * d * K) per lbfgs iteration and stores only its coefficients.
KNN_PROPAGATION keeps every graph node (labeled + unlabeled embeddings) inside the model, so
its pickle grows with the pool, and sklearn's inductive ``predict_proba`` loops over query rows
in Python: fine for thousands of items per call, batch larger pools.

Versions and storage
--------------------
``version`` is ``"<kind>-<16 hex>"``, the SHA-256 of the kind, the effective hyper-parameters,
the class list, ``holdout``, ``seed`` and a digest of the training arrays (float64 bytes and
shapes of ``X_labeled`` and ``X_unlabeled``, the class indices of ``y_labeled``). Retraining on
the same data in the same order gives the same version; any new label changes it. The library
version is not part of it (an sklearn upgrade refits the same version id).
``to_bytes`` pickles the model. Unpickling runs code, so ``from_bytes`` is only for bytes this
module wrote to our own model store, never for anything a user or an external server supplied.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading

__all__ = [
    "DEFAULT_PARAMS",
    "HeldOutMetrics",
    "Label",
    "ModelKind",
    "RetrainPolicy",
    "TrainedModel",
    "out_of_sample_proba",
    "train",
]

Label = str | int
ParamValue = float | int | str


class ModelKind(StrEnum):
    """The built-in model families (the value is what events and versions carry)."""

    LOGISTIC = "logistic"
    KNN_PROPAGATION = "knn_propagation"


#: Hyper-parameters per kind; ``train(params=...)`` may override these keys and no others.
#: LOGISTIC: L2 strength ``C`` and the lbfgs iteration cap. KNN_PROPAGATION: graph degree,
#: clamping ``alpha`` (share of a labeled node's mass that may move) and propagation rounds;
#: sklearn's defaults, which measured within a point of the best of a small grid on digits.
DEFAULT_PARAMS: Final[Mapping[ModelKind, Mapping[str, ParamValue]]] = {
    ModelKind.LOGISTIC: {"C": 1.0, "max_iter": 1000},
    ModelKind.KNN_PROPAGATION: {"n_neighbors": 7, "alpha": 0.2, "max_iter": 30},
}

_PICKLE_FORMAT: Final = "labelops.prelabel.model/1"
_UNLABELED: Final = -1  # sklearn's marker for unlabeled rows in semi-supervised fitting


# --- records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldOutMetrics:
    """Quality of a training on labeled items it did not train on (see the module docstring).

    ``available=False`` means no trustworthy split existed; the numbers are then ``None`` and
    ``note`` says why. ``n_train`` / ``n_holdout`` are the sizes of the split (``n_holdout`` 0
    when unavailable); the published model is always refit on all labeled items.
    """

    available: bool
    accuracy: float | None
    macro_f1: float | None
    per_class_recall: Mapping[Label, float]
    n_train: int
    n_holdout: int
    note: str = ""


@dataclass(frozen=True)
class RetrainPolicy:
    """When the model in the loop retrains: every ``every_n_labels`` new accepted labels.

    ``due(labels_now, labels_at_last_training)``: never below ``min_labels`` labels (a model
    from a handful of labels only adds noise to pre-labels and priorities); the first training
    (``labels_at_last_training is None``) as soon as ``min_labels`` is reached; afterwards
    when at least ``every_n_labels`` labels arrived since the last training. Counts are the
    project's accepted-label totals; if the total shrank (labels rejected), the shortfall is not
    counted as progress.
    """

    every_n_labels: int = 100
    min_labels: int = 20

    def __post_init__(self) -> None:
        for name in ("every_n_labels", "min_labels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def due(self, labels_now: int, labels_at_last_training: int | None) -> bool:
        """Whether a new training should start now."""
        if labels_now < 0 or (labels_at_last_training is not None and labels_at_last_training < 0):
            raise ValueError("label counts must be non-negative")
        if labels_now < self.min_labels:
            return False
        if labels_at_last_training is None:
            return True
        return labels_now - labels_at_last_training >= self.every_n_labels


# --- validation --------------------------------------------------------------------------------


def _embeddings(X: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (items x dims), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return np.ascontiguousarray(arr)


def _classes(classes: Sequence[Label]) -> tuple[Label, ...]:
    out: list[Label] = []
    for c in classes:
        if isinstance(c, bool) or not isinstance(c, str | int | np.integer):
            raise ValueError(f"class labels must be str or int, got {c!r}")
        out.append(int(c) if isinstance(c, np.integer) else c)
    if len(out) < 2:
        raise ValueError(f"need at least 2 classes, got {len(out)}")
    if len(set(out)) != len(out):
        raise ValueError("classes must be unique")
    return tuple(out)


def _class_indices(y: ArrayLike, classes: tuple[Label, ...], n: int, name: str) -> np.ndarray:
    """``y`` as positions in ``classes`` (intp), or a ValueError naming an unknown label."""
    index = {c: i for i, c in enumerate(classes)}
    if np.ndim(y) != 1:
        raise ValueError(f"{name} must be one-dimensional")
    values = np.asarray(y, dtype=object)
    if values.shape[0] != n:
        raise ValueError(f"{name} has {values.shape[0]} labels for {n} rows of X")
    out = np.empty(n, dtype=np.intp)
    for i, v in enumerate(values):
        key = int(v) if isinstance(v, np.integer) else v
        if isinstance(key, bool) or key not in index:
            raise ValueError(f"{name}[{i}] = {v!r} is not one of the classes")
        out[i] = index[key]
    return out


def _params(kind: ModelKind, overrides: Mapping[str, ParamValue] | None) -> dict[str, ParamValue]:
    params = dict(DEFAULT_PARAMS[kind])
    for key, value in (overrides or {}).items():
        if key not in params:
            raise ValueError(f"unknown parameter {key!r} for {kind.value}; known: {sorted(params)}")
        params[key] = value
    return params


# --- fitting -----------------------------------------------------------------------------------


def _fit(
    kind: ModelKind,
    params: Mapping[str, ParamValue],
    X: np.ndarray,
    y: np.ndarray,
    X_unlabeled: np.ndarray | None,
) -> tuple[Any, np.ndarray]:
    """Fit on class indices ``y``; returns (estimator or None, class positions it predicts).

    ``None`` is the constant model of a single training class. The estimator's probability
    columns are in the order of the returned positions (sorted, as sklearn's ``classes_``).
    """
    seen = np.unique(y).astype(np.intp)
    if seen.size == 1:
        return None, seen
    if kind is ModelKind.LOGISTIC:
        model: Any = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "clf",
                    LogisticRegression(C=float(params["C"]), max_iter=int(params["max_iter"])),
                ),
            ]
        )
        model.fit(X, y)
    else:
        if X_unlabeled is not None and X_unlabeled.shape[0]:
            X_all = np.vstack([X, X_unlabeled])
            y_all = np.concatenate([y, np.full(X_unlabeled.shape[0], _UNLABELED, dtype=np.intp)])
        else:
            X_all, y_all = X, y
        model = LabelSpreading(
            kernel="knn",
            n_neighbors=max(1, min(int(params["n_neighbors"]), X_all.shape[0] - 1)),
            alpha=float(params["alpha"]),
            max_iter=int(params["max_iter"]),
        )
        with warnings.catch_warnings():
            # Convergence within max_iter rounds is not required: a few rounds already spread
            # labels to the neighbourhoods that matter, and the result is deterministic.
            warnings.simplefilter("ignore")
            model.fit(X_all, y_all)
    classes_out = np.asarray(model.classes_, dtype=np.intp)
    return model, classes_out


def _predict(
    estimator: Any, seen: np.ndarray, prior: np.ndarray, X: np.ndarray, n_classes: int
) -> np.ndarray:
    """Probabilities over all ``n_classes`` columns; unseen classes get exactly 0.

    kNN propagation can leave an item with no mass at all (every neighbour sits in a graph
    component no label reached); such rows get ``prior``, the training label frequencies.
    """
    out = np.zeros((X.shape[0], n_classes))
    if X.shape[0] == 0:
        return out
    if estimator is None:
        out[:, seen[0]] = 1.0
        return out
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    sums = p.sum(axis=1)
    bad = ~np.isfinite(sums) | (sums <= 0) | ~np.all(np.isfinite(p), axis=1)
    if np.any(bad):
        p[bad] = prior[seen]
        sums = p.sum(axis=1)
    out[:, seen] = p / sums[:, None]
    return out


def _prior(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    out: np.ndarray = counts / counts.sum()
    return out


# --- trained model -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """One trained version of a built-in model. Create it with ``train``."""

    kind: ModelKind
    classes: tuple[Label, ...]
    params: Mapping[str, ParamValue]
    version: str
    metrics: HeldOutMetrics
    n_features: int
    _estimator: Any = field(repr=False)
    _seen: np.ndarray = field(repr=False)
    _prior: np.ndarray = field(repr=False)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """``(n, len(classes))`` probabilities, columns in ``classes`` order, rows summing to 1."""
        arr = _embeddings(X, "X")
        if arr.shape[1] != self.n_features:
            raise ValueError(
                f"X has {arr.shape[1]} dims, the model was trained on {self.n_features}"
            )
        return _predict(self._estimator, self._seen, self._prior, arr, len(self.classes))

    def to_bytes(self) -> bytes:
        """Pickled model, for our own model store only (see ``from_bytes``)."""
        return pickle.dumps((_PICKLE_FORMAT, self), protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> TrainedModel:
        """Inverse of ``to_bytes``. Unpickling executes code: trusted bytes (our store) only."""
        obj = pickle.loads(data)  # our own storage only, see the docstring
        if (
            not isinstance(obj, tuple)
            or len(obj) != 2
            or obj[0] != _PICKLE_FORMAT
            or not isinstance(obj[1], TrainedModel)
        ):
            raise ValueError("not a serialized TrainedModel")
        model: TrainedModel = obj[1]
        return model


def _version(
    kind: ModelKind,
    params: Mapping[str, ParamValue],
    classes: tuple[Label, ...],
    holdout: float,
    seed: int,
    X: np.ndarray,
    y: np.ndarray,
    X_unlabeled: np.ndarray | None,
) -> str:
    h = hashlib.sha256()
    header = {
        "kind": kind.value,
        "params": dict(sorted(params.items())),
        "classes": [[type(c).__name__, c] for c in classes],
        "holdout": holdout,
        "seed": seed,
    }
    h.update(json.dumps(header, sort_keys=True).encode())
    for arr in (X, y.astype(np.int64), X_unlabeled):
        if arr is None:
            h.update(b"none")
            continue
        h.update(json.dumps(list(arr.shape)).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return f"{kind.value}-{h.hexdigest()[:16]}"


def _stratified_holdout(y: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices: ``round(holdout * n_c)`` in ``[1, n_c - 1]`` per class >= 2."""
    rng = np.random.default_rng(seed)
    train_rows: list[np.ndarray] = []
    test_rows: list[np.ndarray] = []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        if rows.size < 2:
            train_rows.append(rows)
            continue
        k = min(max(round(holdout * rows.size), 1), rows.size - 1)
        test_rows.append(rows[:k])
        train_rows.append(rows[k:])
    train_idx = np.sort(np.concatenate(train_rows)).astype(np.intp)
    test_idx = (
        np.sort(np.concatenate(test_rows)).astype(np.intp)
        if test_rows
        else np.empty(0, dtype=np.intp)
    )
    return train_idx, test_idx


def _heldout_metrics(
    kind: ModelKind,
    params: Mapping[str, ParamValue],
    X: np.ndarray,
    y: np.ndarray,
    X_unlabeled: np.ndarray | None,
    classes: tuple[Label, ...],
    holdout: float,
    seed: int,
) -> HeldOutMetrics:
    if holdout == 0:
        return HeldOutMetrics(False, None, None, {}, y.size, 0, "holdout disabled")
    train_idx, test_idx = _stratified_holdout(y, holdout, seed)
    if test_idx.size == 0:
        return HeldOutMetrics(
            False, None, None, {}, y.size, 0, "no class has 2 labeled examples to hold one out"
        )
    estimator, seen = _fit(kind, params, X[train_idx], y[train_idx], X_unlabeled)
    proba = _predict(estimator, seen, _prior(y[train_idx], len(classes)), X[test_idx], len(classes))
    pred = np.argmax(proba, axis=1)
    truth = y[test_idx]
    present = np.unique(truth)
    recall = {classes[int(c)]: float(np.mean(pred[truth == c] == c)) for c in present}
    macro_f1 = float(f1_score(truth, pred, labels=present, average="macro", zero_division=0))
    return HeldOutMetrics(
        True,
        float(np.mean(pred == truth)),
        macro_f1,
        recall,
        int(train_idx.size),
        int(test_idx.size),
    )


# --- entry points ------------------------------------------------------------------------------


def train(
    kind: ModelKind,
    X_labeled: ArrayLike,
    y_labeled: ArrayLike,
    *,
    classes: Sequence[Label],
    X_unlabeled: ArrayLike | None = None,
    holdout: float = 0.2,
    seed: int = 0,
    params: Mapping[str, ParamValue] | None = None,
) -> TrainedModel:
    """Train one version: held-out metrics on a stratified split, then a refit on all labels.

    ``X_unlabeled`` (embeddings of the unlabeled pool) feeds the kNN graph of
    ``KNN_PROPAGATION``; ``LOGISTIC`` ignores it (it is still part of the version digest, so
    the version identifies exactly what was passed). ``holdout`` in ``[0, 1)``; ``params``
    overrides keys of ``DEFAULT_PARAMS[kind]``. Deterministic for given inputs and ``seed``.
    """
    kind = ModelKind(kind)
    cls = _classes(classes)
    X = _embeddings(X_labeled, "X_labeled")
    if X.shape[0] == 0:
        raise ValueError("need at least one labeled item")
    y = _class_indices(y_labeled, cls, X.shape[0], "y_labeled")
    Xu = None if X_unlabeled is None else _embeddings(X_unlabeled, "X_unlabeled")
    if Xu is not None and Xu.shape[1] != X.shape[1]:
        raise ValueError(f"X_unlabeled has {Xu.shape[1]} dims, X_labeled has {X.shape[1]}")
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must lie in [0, 1), got {holdout!r}")
    p = _params(kind, params)

    metrics = _heldout_metrics(kind, p, X, y, Xu, cls, holdout, seed)
    estimator, seen = _fit(kind, p, X, y, Xu)
    return TrainedModel(
        kind=kind,
        classes=cls,
        params=p,
        version=_version(kind, p, cls, holdout, seed, X, y, Xu),
        metrics=metrics,
        n_features=int(X.shape[1]),
        _estimator=estimator,
        _seen=seen,
        _prior=_prior(y, len(cls)),
    )


def out_of_sample_proba(
    kind: ModelKind,
    X: ArrayLike,
    y: ArrayLike,
    *,
    classes: Sequence[Label],
    folds: int = 5,
    seed: int = 0,
    X_unlabeled: ArrayLike | None = None,
    params: Mapping[str, ParamValue] | None = None,
) -> np.ndarray:
    """Cross-validated ``(n, len(classes))`` probabilities: row i from a model blind to y[i].

    Stratified ``min(folds, largest class)``-fold split (small classes: see the module docstring);
    ``X_unlabeled`` only adds graph nodes for ``KNN_PROPAGATION``. Columns follow ``classes``,
    rows sum to 1. This is what QA's confident learning needs: in-sample probabilities have
    memorised the wrong labels and hide them.
    """
    kind = ModelKind(kind)
    cls = _classes(classes)
    arr = _embeddings(X, "X")
    n = arr.shape[0]
    yi = _class_indices(y, cls, n, "y")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    if n < 2:
        raise ValueError("need at least 2 items to hold any out")
    Xu = None if X_unlabeled is None else _embeddings(X_unlabeled, "X_unlabeled")
    if Xu is not None and Xu.shape[1] != arr.shape[1]:
        raise ValueError(f"X_unlabeled has {Xu.shape[1]} dims, X has {arr.shape[1]}")
    p = _params(kind, params)

    out = np.zeros((n, len(cls)))
    largest = int(np.bincount(yi).max())
    splitter: StratifiedKFold | KFold
    if largest >= 2:
        # sklearn refuses more folds than the largest class has members.
        splitter = StratifiedKFold(min(folds, largest), shuffle=True, random_state=seed)
    else:
        splitter = KFold(min(folds, n), shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "The least populated class has only m members": the documented small-class fallback.
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(arr, yi))
    for train_idx, test_idx in splits:
        estimator, seen = _fit(kind, p, arr[train_idx], yi[train_idx], Xu)
        out[test_idx] = _predict(
            estimator, seen, _prior(yi[train_idx], len(cls)), arr[test_idx], len(cls)
        )
    return out

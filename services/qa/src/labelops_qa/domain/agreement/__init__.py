"""Inter-annotator agreement: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha. Pure, vectorized.

The QA service measures how far annotators agree on a project's labels, as a whole, per annotator
pair, per ontology class and per time window (``MeasureAgreement`` -> ``AgreementMeasured``).

Public API
----------
- ``cohen_kappa(a, b, labels=None, weights=None)``: two raters, same items.
- ``fleiss_kappa(table, method="fleiss")``: items x categories count table.
- ``fleiss_kappa_from_ratings(ratings)``: items x raters categorical ratings.
- ``krippendorff_alpha(reliability_data, level="nominal")``: raters x units, ``np.nan`` missing.
- ``Annotation`` (item, annotator, label, class_id, at) and, over any iterable of them,
  ``pairwise_cohen``, ``agreement_summary`` (-> ``AgreementSummary``) and ``windowed``.

Parity with the references (checked by the unit and property tests to 1e-9)
---------------------------------------------------------------------------
- ``cohen_kappa`` = ``sklearn.metrics.cohen_kappa_score`` (same confusion matrix, chance matrix
  and weights; ``labels`` selects *and orders* the categories, pairs with a label outside it are
  dropped). Undefined cases return ``nan`` as sklearn does (sklearn also emits an
  ``UndefinedMetricWarning``; we do not, the nan is the signal): no pair left after the
  ``labels`` filter, or chance disagreement 0 (both raters used one and the same category:
  ``p_e == 1``). Like sklearn, ``labels`` none of which occurs in ``a`` raise ``ValueError``.
  Extensions: labels are any hashables compared by ``==``/hash (sklearn rejects floats it calls
  "continuous" and mixed str/int); unweighted kappa does not depend on category order, so
  unorderable labels are accepted there, while weighted kappa needs orderable labels or
  ``labels``. Duplicates in ``labels`` raise (sklearn silently miscounts them). NaN is not a
  usable label (NaN != NaN).
- ``fleiss_kappa`` = ``statsmodels.stats.inter_rater.fleiss_kappa`` for ``"fleiss"`` and
  ``"randolph"``; ``fleiss_kappa_from_ratings`` = ``fleiss_kappa(aggregate_raters(r)[0])``, so
  Randolph's chance term counts the categories that occur. ``p_e == 1`` gives ``nan``
  (statsmodels: nan plus a RuntimeWarning): for Fleiss when one category holds every rating,
  for Randolph (``p_e = 1 / columns``) only for a one-column table. Where statsmodels fails
  by assertion or divides by zero we raise ``ValueError``: unequal row sums, fewer than two
  ratings per item.
- ``krippendorff_alpha`` = ``krippendorff.alpha`` for all four levels. Units with fewer than
  two values are not pairable and contribute nothing (the package gives them zero weight).
  Fewer than two distinct pairable values gives ``nan`` (expected disagreement 0); the package
  returns nan there too when other values occur in unpairable units, but raises "There has to
  be more than one value in the domain" when the whole matrix holds one value. We return nan
  in both cases: the statistic is undefined either way and a dashboard needs a value, not an
  exception. No pairable unit at all raises ``ValueError`` (as the package does).

Implementation: the coincidence matrix ``o`` is built sparse as ``C.T @ (C / (m_u - 1))`` from
the units x values count matrix ``C`` (``m_u`` = values in unit u); the package materialises
units x values x values dense, which does not fit real projects. Observed disagreement is
``sum(o * d)`` over the non-zeros of ``o``; expected disagreement is closed-form for nominal
(``n^2 - sum n_c^2``), interval and ordinal (``2 n sum n_c (x_c - mean)^2``, where ordinal
replaces each value by its mid-rank ``x_c = N_{<=c} - n_c / 2``, which turns the package's
ordinal metric into a squared difference) and a blocked dense sum for ratio (O(values^2)
time, bounded memory: ~20 s for 70k distinct continuous values; the other levels take
milliseconds).

Annotation semantics (``pairwise_cohen``, ``agreement_summary``, ``windowed``)
-----------------------------------------------------------------------------
- An annotator's rating of an item is their *latest* annotation of it (largest ``at``; on
  equal ``at`` the later one in input order): a re-label replaces the earlier label.
- Item = unit, annotator = rater, ``label`` = category (nominal) or number (other levels).
- ``pairwise_cohen``: unweighted kappa per annotator pair over their shared items, keyed by
  the sorted id pair; ``(kappa, n_shared)``; pairs sharing < ``min_items`` items are omitted.
  Vectorized over all pairs at once (integer confusion statistics per pair).
- ``agreement_summary``: ``fleiss_kappa`` only when every item has the same number (>= 2) of
  ratings, else ``None``; ``krippendorff_alpha`` is ``nan`` when undefined (e.g. no item
  has two annotators) rather than an error, so any non-empty input yields a summary;
  ``per_class[c]`` is alpha over the annotations whose ``class_id`` is ``c`` (after the
  latest-wins rule, so a re-label moves the rating to its new class). If ``class_id`` is the
  label itself, every group holds one value and its alpha is nan by definition; a per-class
  figure then needs one-vs-rest labels (``label == c`` over the items anyone gave ``c``).
- ``windowed``: tumbling windows aligned to ``at = 0`` (``start = floor(at / w) * w``), each
  summarised on its own annotations (nominal level); windows where no item has ratings from two
  annotators are skipped; ordered by start.
- Empty input: the metric functions and ``agreement_summary`` raise ``ValueError``;
  ``pairwise_cohen`` returns ``{}`` and ``windowed`` ``[]`` (nothing to report is a valid
  answer for them).
"""

from .alpha import LEVELS, krippendorff_alpha
from .annotations import AgreementSummary, Annotation, agreement_summary, pairwise_cohen, windowed
from .kappa import (
    FLEISS_METHODS,
    KAPPA_WEIGHTS,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_from_ratings,
)

__all__ = [
    "FLEISS_METHODS",
    "KAPPA_WEIGHTS",
    "LEVELS",
    "AgreementSummary",
    "Annotation",
    "agreement_summary",
    "cohen_kappa",
    "fleiss_kappa",
    "fleiss_kappa_from_ratings",
    "krippendorff_alpha",
    "pairwise_cohen",
    "windowed",
]

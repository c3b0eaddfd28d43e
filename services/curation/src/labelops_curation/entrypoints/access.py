"""Who may call which CurationService method: full method name -> the ``Action`` it needs.

The server kit's interceptor ``require``s it before the handler runs (a method missing here is
refused); the roles holding each action are ``labelops_core.authz.ROLE_ACTIONS``
(docs/security.md prints both). Reads, searches, duplicate finding and coverage analysis are
``items.read`` (models and reviewers read items too); creating datasets, registering and
curating items are ``items.write``. FindDuplicates with ``exclude_duplicates`` and
AnalyzeCoverage with ``include_edge_cases`` change items: the handlers additionally
``require(items.write)`` for those. Vendors and annotators hold neither. Every call acts on the
caller's tenant's datasets only.
"""

from __future__ import annotations

from labelops.curation.v1 import curation_pb2
from labelops_core.authz import Action

_SERVICE = curation_pb2.DESCRIPTOR.services_by_name["CurationService"].full_name

_ACTIONS: dict[str, Action] = {
    "GetDataset": Action.ITEMS_READ,
    "ListDatasets": Action.ITEMS_READ,
    "GetImport": Action.ITEMS_READ,
    "GetItem": Action.ITEMS_READ,
    "ListItems": Action.ITEMS_READ,
    "FindDuplicates": Action.ITEMS_READ,
    "SearchSimilar": Action.ITEMS_READ,
    "SearchText": Action.ITEMS_READ,
    "AnalyzeCoverage": Action.ITEMS_READ,
    "CreateDataset": Action.ITEMS_WRITE,
    "RegisterItems": Action.ITEMS_WRITE,
    "CurateItems": Action.ITEMS_WRITE,
}

#: ``/labelops.curation.v1.CurationService/<Method>`` -> the action the caller needs.
METHOD_ACTIONS: dict[str, Action] = {f"/{_SERVICE}/{m}": a for m, a in _ACTIONS.items()}

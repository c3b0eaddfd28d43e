"""Who may call which DatasetService method: full method name -> the ``Action`` it needs.

The server kit's interceptor ``require``s it before the handler runs (a method missing here is
refused); the roles holding each action are ``labelops_core.authz.ROLE_ACTIONS``
(docs/security.md prints both). Vendors and annotators hold neither: datasets are the
organisation's, not its workforces'. Every read and version is of the caller's tenant.
"""

from __future__ import annotations

from labelops.datasets.v1 import datasets_pb2
from labelops_core.authz import Action

_SERVICE = datasets_pb2.DESCRIPTOR.services_by_name["DatasetService"].full_name

_ACTIONS: dict[str, Action] = {
    "GetDatasetVersion": Action.DATASET_READ,
    "ListDatasetVersions": Action.DATASET_READ,
    "StreamDatasetVersion": Action.DATASET_READ,
    "DiffDatasetVersions": Action.DATASET_READ,
    "ExportDatasetVersion": Action.DATASET_READ,
    "CreateDatasetVersion": Action.DATASET_WRITE,
}

#: ``/labelops.datasets.v1.DatasetService/<Method>`` -> the action the caller needs.
METHOD_ACTIONS: dict[str, Action] = {f"/{_SERVICE}/{m}": a for m, a in _ACTIONS.items()}

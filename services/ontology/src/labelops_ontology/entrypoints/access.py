"""Who may call which OntologyService method: full method name -> the ``Action`` it needs.

The server kit's interceptor ``require``s it before the handler runs (a method missing here is
refused); the roles holding each action are ``labelops_core.authz.ROLE_ACTIONS``
(docs/security.md prints both). Everyone who labels or checks labels reads ontologies
(vendors, annotators and models included, and ValidateLabels is a read: it changes nothing);
changing what everybody labels against is ``ontology.write`` (admin, ml_engineer). Every call
acts on the caller's tenant's ontologies only.
"""

from __future__ import annotations

from labelops.ontology.v1 import ontology_pb2
from labelops_core.authz import Action

_SERVICE = ontology_pb2.DESCRIPTOR.services_by_name["OntologyService"].full_name

_ACTIONS: dict[str, Action] = {
    "GetOntology": Action.ONTOLOGY_READ,
    "ListOntologies": Action.ONTOLOGY_READ,
    "GetOntologyVersion": Action.ONTOLOGY_READ,
    "DiffOntologyVersions": Action.ONTOLOGY_READ,
    "ValidateLabels": Action.ONTOLOGY_READ,
    "CreateOntology": Action.ONTOLOGY_WRITE,
    "UpdateOntologyDraft": Action.ONTOLOGY_WRITE,
    "PublishOntologyVersion": Action.ONTOLOGY_WRITE,
    "CreateOntologyMigration": Action.ONTOLOGY_WRITE,
    "DeprecateOntology": Action.ONTOLOGY_WRITE,
}

#: ``/labelops.ontology.v1.OntologyService/<Method>`` -> the action the caller needs.
METHOD_ACTIONS: dict[str, Action] = {f"/{_SERVICE}/{m}": a for m, a in _ACTIONS.items()}

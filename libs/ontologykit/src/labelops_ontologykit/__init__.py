"""Ontology model library: compile, validate labels, diff versions, apply migrations.

Every service uses it in-process; see README.md for the API, the validation rules and their
reasons, and the performance figure.
"""

from . import reasons
from .cache import OntologyCache
from .compiled import CompiledOntology, compile_ontology
from .definition import (
    ID_PATTERN,
    MAX_DEFINITION_BYTES,
    MAX_DEPTH,
    MAX_ITEMS,
    validate_definition,
)
from .diff import (
    canonical,
    check_version_bump,
    diff_definitions,
    fingerprint,
    is_breaking,
    next_version,
    parse_version,
)
from .geometry import BOUNDS_TOLERANCE, area
from .issues import LabelIssue
from .limits import LabelLimits
from .migration import MigrationPlan, chain_migrations, check_migration, compile_migration
from .versions import OntologyVersions

__all__ = [
    "BOUNDS_TOLERANCE",
    "ID_PATTERN",
    "MAX_DEFINITION_BYTES",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "CompiledOntology",
    "LabelIssue",
    "LabelLimits",
    "MigrationPlan",
    "OntologyCache",
    "OntologyVersions",
    "area",
    "canonical",
    "chain_migrations",
    "check_migration",
    "check_version_bump",
    "compile_migration",
    "compile_ontology",
    "diff_definitions",
    "fingerprint",
    "is_breaking",
    "next_version",
    "parse_version",
    "reasons",
    "validate_definition",
]

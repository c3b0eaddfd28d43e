"""Commands: what a caller asks the ontology aggregate to do.

Each command knows its own fingerprint: the hash of its content that tells a retry of a request
(same ``request_id``, same content → the first answer) from a request id reused for something
else (→ INVALID_ARGUMENT ``REQUEST_ID_REUSED``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from labelops.ontology.v1 import definition_pb2, ontology_pb2


def _fingerprint(*parts: bytes | str | int | bool) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, bytes):
            b = p
        else:
            b = str(p).encode()
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)
    return h.hexdigest()


def _ser(msgs: Sequence[object]) -> bytes:
    return b"".join(
        len(s).to_bytes(8, "big") + s
        for s in (m.SerializeToString(deterministic=True) for m in msgs)  # type: ignore[attr-defined]
    )


@dataclass(frozen=True)
class CreateOntology:
    """Create an ontology. ``ontology_id`` empty → the handler assigns a UUIDv7."""

    ontology_id: str
    display_name: str
    description: str
    definition: definition_pb2.OntologyDefinition
    request_id: str = ""

    def fingerprint(self) -> str:
        # ontology_id as *requested* (possibly empty): a retry of a create without id must
        # find the first answer, whose id was generated.
        return _fingerprint(
            "CreateOntology",
            self.ontology_id,
            self.display_name,
            self.description,
            self.definition.SerializeToString(deterministic=True),
        )


@dataclass(frozen=True)
class UpdateOntologyDraft:
    ontology_id: str
    expected_revision: int
    edits: Sequence[ontology_pb2.DraftEdit] = field(default_factory=list)
    request_id: str = ""

    def fingerprint(self) -> str:
        return _fingerprint(
            "UpdateOntologyDraft", self.ontology_id, self.expected_revision, _ser(self.edits)
        )


@dataclass(frozen=True)
class PublishOntologyVersion:
    """Publish the draft. ``version`` empty → chosen from the changes."""

    ontology_id: str
    expected_revision: int
    version: str = ""
    notes: str = ""
    request_id: str = ""

    def fingerprint(self) -> str:
        return _fingerprint(
            "PublishOntologyVersion",
            self.ontology_id,
            self.expected_revision,
            self.version,
            self.notes,
        )


@dataclass(frozen=True)
class CreateOntologyMigration:
    ontology_id: str
    from_version: str
    to_version: str
    rules: Sequence[ontology_pb2.MigrationRule] = field(default_factory=list)
    request_id: str = ""

    def fingerprint(self) -> str:
        return _fingerprint(
            "CreateOntologyMigration",
            self.ontology_id,
            self.from_version,
            self.to_version,
            _ser(self.rules),
        )


@dataclass(frozen=True)
class DeprecateOntology:
    ontology_id: str
    reason: str = ""
    request_id: str = ""

    def fingerprint(self) -> str:
        return _fingerprint("DeprecateOntology", self.ontology_id, self.reason)


Command = (
    CreateOntology
    | UpdateOntologyDraft
    | PublishOntologyVersion
    | CreateOntologyMigration
    | DeprecateOntology
)

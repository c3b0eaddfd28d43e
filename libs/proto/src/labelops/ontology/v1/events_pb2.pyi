from labelops.ontology.v1 import definition_pb2 as _definition_pb2
from labelops.ontology.v1 import ontology_pb2 as _ontology_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OntologyCreated(_message.Message):
    __slots__ = ("ontology_id", "display_name", "description", "definition")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    display_name: str
    description: str
    definition: _definition_pb2.OntologyDefinition
    def __init__(self, ontology_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., definition: _Optional[_Union[_definition_pb2.OntologyDefinition, _Mapping]] = ...) -> None: ...

class OntologyDraftUpdated(_message.Message):
    __slots__ = ("ontology_id", "edits", "draft_revision")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    DRAFT_REVISION_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    edits: _containers.RepeatedCompositeFieldContainer[_ontology_pb2.DraftEdit]
    draft_revision: int
    def __init__(self, ontology_id: _Optional[str] = ..., edits: _Optional[_Iterable[_Union[_ontology_pb2.DraftEdit, _Mapping]]] = ..., draft_revision: _Optional[int] = ...) -> None: ...

class OntologyVersionPublished(_message.Message):
    __slots__ = ("ontology_id", "version", "definition", "fingerprint", "previous_version", "changes", "breaking", "notes", "draft_revision")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    BREAKING_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    DRAFT_REVISION_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    version: str
    definition: _definition_pb2.OntologyDefinition
    fingerprint: str
    previous_version: str
    changes: _containers.RepeatedCompositeFieldContainer[_ontology_pb2.DiffEntry]
    breaking: bool
    notes: str
    draft_revision: int
    def __init__(self, ontology_id: _Optional[str] = ..., version: _Optional[str] = ..., definition: _Optional[_Union[_definition_pb2.OntologyDefinition, _Mapping]] = ..., fingerprint: _Optional[str] = ..., previous_version: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[_ontology_pb2.DiffEntry, _Mapping]]] = ..., breaking: _Optional[bool] = ..., notes: _Optional[str] = ..., draft_revision: _Optional[int] = ...) -> None: ...

class OntologyMigrationCreated(_message.Message):
    __slots__ = ("ontology_id", "from_version", "to_version", "rules")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    from_version: str
    to_version: str
    rules: _containers.RepeatedCompositeFieldContainer[_ontology_pb2.MigrationRule]
    def __init__(self, ontology_id: _Optional[str] = ..., from_version: _Optional[str] = ..., to_version: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[_ontology_pb2.MigrationRule, _Mapping]]] = ...) -> None: ...

class OntologyDeprecated(_message.Message):
    __slots__ = ("ontology_id", "reason")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    reason: str
    def __init__(self, ontology_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

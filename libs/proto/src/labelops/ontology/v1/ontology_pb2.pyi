import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelops.labels.v1 import label_pb2 as _label_pb2
from labelops.ontology.v1 import definition_pb2 as _definition_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OntologyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ONTOLOGY_STATE_UNSPECIFIED: _ClassVar[OntologyState]
    ONTOLOGY_STATE_ACTIVE: _ClassVar[OntologyState]
    ONTOLOGY_STATE_DEPRECATED: _ClassVar[OntologyState]

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_ADDED: _ClassVar[ChangeKind]
    CHANGE_KIND_REMOVED: _ClassVar[ChangeKind]
    CHANGE_KIND_RENAMED: _ClassVar[ChangeKind]
    CHANGE_KIND_RETYPED: _ClassVar[ChangeKind]
    CHANGE_KIND_MOVED: _ClassVar[ChangeKind]
    CHANGE_KIND_DEPRECATED: _ClassVar[ChangeKind]
    CHANGE_KIND_UNDEPRECATED: _ClassVar[ChangeKind]
    CHANGE_KIND_CONSTRAINT_CHANGED: _ClassVar[ChangeKind]
    CHANGE_KIND_METADATA_CHANGED: _ClassVar[ChangeKind]

class ItemKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_KIND_UNSPECIFIED: _ClassVar[ItemKind]
    ITEM_KIND_CLASS: _ClassVar[ItemKind]
    ITEM_KIND_CLASSIFICATION: _ClassVar[ItemKind]
    ITEM_KIND_OPTION: _ClassVar[ItemKind]
    ITEM_KIND_ATTRIBUTE: _ClassVar[ItemKind]
    ITEM_KIND_RELATIONSHIP: _ClassVar[ItemKind]
ONTOLOGY_STATE_UNSPECIFIED: OntologyState
ONTOLOGY_STATE_ACTIVE: OntologyState
ONTOLOGY_STATE_DEPRECATED: OntologyState
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_ADDED: ChangeKind
CHANGE_KIND_REMOVED: ChangeKind
CHANGE_KIND_RENAMED: ChangeKind
CHANGE_KIND_RETYPED: ChangeKind
CHANGE_KIND_MOVED: ChangeKind
CHANGE_KIND_DEPRECATED: ChangeKind
CHANGE_KIND_UNDEPRECATED: ChangeKind
CHANGE_KIND_CONSTRAINT_CHANGED: ChangeKind
CHANGE_KIND_METADATA_CHANGED: ChangeKind
ITEM_KIND_UNSPECIFIED: ItemKind
ITEM_KIND_CLASS: ItemKind
ITEM_KIND_CLASSIFICATION: ItemKind
ITEM_KIND_OPTION: ItemKind
ITEM_KIND_ATTRIBUTE: ItemKind
ITEM_KIND_RELATIONSHIP: ItemKind

class Ontology(_message.Message):
    __slots__ = ("name", "ontology_id", "display_name", "description", "state", "draft", "draft_revision", "versions", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    DRAFT_REVISION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    ontology_id: str
    display_name: str
    description: str
    state: OntologyState
    draft: _definition_pb2.OntologyDefinition
    draft_revision: int
    versions: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., ontology_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., state: _Optional[_Union[OntologyState, str]] = ..., draft: _Optional[_Union[_definition_pb2.OntologyDefinition, _Mapping]] = ..., draft_revision: _Optional[int] = ..., versions: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OntologyVersion(_message.Message):
    __slots__ = ("name", "ontology_id", "version", "definition", "fingerprint", "publish_time", "published_by", "notes", "changes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    name: str
    ontology_id: str
    version: str
    definition: _definition_pb2.OntologyDefinition
    fingerprint: str
    publish_time: _timestamp_pb2.Timestamp
    published_by: str
    notes: str
    changes: _containers.RepeatedCompositeFieldContainer[DiffEntry]
    def __init__(self, name: _Optional[str] = ..., ontology_id: _Optional[str] = ..., version: _Optional[str] = ..., definition: _Optional[_Union[_definition_pb2.OntologyDefinition, _Mapping]] = ..., fingerprint: _Optional[str] = ..., publish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., published_by: _Optional[str] = ..., notes: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[DiffEntry, _Mapping]]] = ...) -> None: ...

class AddItem(_message.Message):
    __slots__ = ("parent_id", "ontology_class", "classification", "option", "attribute", "relationship")
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_CLASS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    OPTION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    parent_id: str
    ontology_class: _definition_pb2.OntologyClass
    classification: _definition_pb2.Classification
    option: _definition_pb2.Option
    attribute: _definition_pb2.Attribute
    relationship: _definition_pb2.Relationship
    def __init__(self, parent_id: _Optional[str] = ..., ontology_class: _Optional[_Union[_definition_pb2.OntologyClass, _Mapping]] = ..., classification: _Optional[_Union[_definition_pb2.Classification, _Mapping]] = ..., option: _Optional[_Union[_definition_pb2.Option, _Mapping]] = ..., attribute: _Optional[_Union[_definition_pb2.Attribute, _Mapping]] = ..., relationship: _Optional[_Union[_definition_pb2.Relationship, _Mapping]] = ...) -> None: ...

class RenameItem(_message.Message):
    __slots__ = ("item_id", "new_name")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_NAME_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    new_name: str
    def __init__(self, item_id: _Optional[str] = ..., new_name: _Optional[str] = ...) -> None: ...

class RetypeItem(_message.Message):
    __slots__ = ("item_id", "geometry", "classification_kind", "attribute_type")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_KIND_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_TYPE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    geometry: _definition_pb2.GeometryKind
    classification_kind: _definition_pb2.ClassificationKind
    attribute_type: _definition_pb2.AttributeType
    def __init__(self, item_id: _Optional[str] = ..., geometry: _Optional[_Union[_definition_pb2.GeometryKind, str]] = ..., classification_kind: _Optional[_Union[_definition_pb2.ClassificationKind, str]] = ..., attribute_type: _Optional[_Union[_definition_pb2.AttributeType, str]] = ...) -> None: ...

class DeprecateItem(_message.Message):
    __slots__ = ("item_id", "deprecated")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    deprecated: bool
    def __init__(self, item_id: _Optional[str] = ..., deprecated: _Optional[bool] = ...) -> None: ...

class MoveItem(_message.Message):
    __slots__ = ("item_id", "new_parent_id")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    new_parent_id: str
    def __init__(self, item_id: _Optional[str] = ..., new_parent_id: _Optional[str] = ...) -> None: ...

class RemoveItem(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class UpdateItem(_message.Message):
    __slots__ = ("ontology_class", "classification", "option", "attribute", "relationship")
    ONTOLOGY_CLASS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    OPTION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    ontology_class: _definition_pb2.OntologyClass
    classification: _definition_pb2.Classification
    option: _definition_pb2.Option
    attribute: _definition_pb2.Attribute
    relationship: _definition_pb2.Relationship
    def __init__(self, ontology_class: _Optional[_Union[_definition_pb2.OntologyClass, _Mapping]] = ..., classification: _Optional[_Union[_definition_pb2.Classification, _Mapping]] = ..., option: _Optional[_Union[_definition_pb2.Option, _Mapping]] = ..., attribute: _Optional[_Union[_definition_pb2.Attribute, _Mapping]] = ..., relationship: _Optional[_Union[_definition_pb2.Relationship, _Mapping]] = ...) -> None: ...

class ReplaceDefinition(_message.Message):
    __slots__ = ("definition",)
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    definition: _definition_pb2.OntologyDefinition
    def __init__(self, definition: _Optional[_Union[_definition_pb2.OntologyDefinition, _Mapping]] = ...) -> None: ...

class DraftEdit(_message.Message):
    __slots__ = ("add", "rename", "retype", "deprecate", "move", "remove", "update", "replace")
    ADD_FIELD_NUMBER: _ClassVar[int]
    RENAME_FIELD_NUMBER: _ClassVar[int]
    RETYPE_FIELD_NUMBER: _ClassVar[int]
    DEPRECATE_FIELD_NUMBER: _ClassVar[int]
    MOVE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    add: AddItem
    rename: RenameItem
    retype: RetypeItem
    deprecate: DeprecateItem
    move: MoveItem
    remove: RemoveItem
    update: UpdateItem
    replace: ReplaceDefinition
    def __init__(self, add: _Optional[_Union[AddItem, _Mapping]] = ..., rename: _Optional[_Union[RenameItem, _Mapping]] = ..., retype: _Optional[_Union[RetypeItem, _Mapping]] = ..., deprecate: _Optional[_Union[DeprecateItem, _Mapping]] = ..., move: _Optional[_Union[MoveItem, _Mapping]] = ..., remove: _Optional[_Union[RemoveItem, _Mapping]] = ..., update: _Optional[_Union[UpdateItem, _Mapping]] = ..., replace: _Optional[_Union[ReplaceDefinition, _Mapping]] = ...) -> None: ...

class DiffEntry(_message.Message):
    __slots__ = ("change", "item_kind", "item_id", "path", "breaking", "old_value", "new_value", "description")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    ITEM_KIND_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BREAKING_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    change: ChangeKind
    item_kind: ItemKind
    item_id: str
    path: str
    breaking: bool
    old_value: str
    new_value: str
    description: str
    def __init__(self, change: _Optional[_Union[ChangeKind, str]] = ..., item_kind: _Optional[_Union[ItemKind, str]] = ..., item_id: _Optional[str] = ..., path: _Optional[str] = ..., breaking: _Optional[bool] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class MapClassRule(_message.Message):
    __slots__ = ("from_class_id", "to_class_id")
    FROM_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    TO_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    from_class_id: str
    to_class_id: str
    def __init__(self, from_class_id: _Optional[str] = ..., to_class_id: _Optional[str] = ...) -> None: ...

class MergeClassesRule(_message.Message):
    __slots__ = ("from_class_ids", "to_class_id")
    FROM_CLASS_IDS_FIELD_NUMBER: _ClassVar[int]
    TO_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    from_class_ids: _containers.RepeatedScalarFieldContainer[str]
    to_class_id: str
    def __init__(self, from_class_ids: _Optional[_Iterable[str]] = ..., to_class_id: _Optional[str] = ...) -> None: ...

class SplitCondition(_message.Message):
    __slots__ = ("option_id", "min_area")
    OPTION_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_AREA_FIELD_NUMBER: _ClassVar[int]
    option_id: str
    min_area: float
    def __init__(self, option_id: _Optional[str] = ..., min_area: _Optional[float] = ...) -> None: ...

class SplitCase(_message.Message):
    __slots__ = ("when", "to_class_id")
    WHEN_FIELD_NUMBER: _ClassVar[int]
    TO_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    when: SplitCondition
    to_class_id: str
    def __init__(self, when: _Optional[_Union[SplitCondition, _Mapping]] = ..., to_class_id: _Optional[str] = ...) -> None: ...

class SplitClassRule(_message.Message):
    __slots__ = ("from_class_id", "cases", "default_class_id")
    FROM_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    from_class_id: str
    cases: _containers.RepeatedCompositeFieldContainer[SplitCase]
    default_class_id: str
    def __init__(self, from_class_id: _Optional[str] = ..., cases: _Optional[_Iterable[_Union[SplitCase, _Mapping]]] = ..., default_class_id: _Optional[str] = ...) -> None: ...

class DropClassRule(_message.Message):
    __slots__ = ("class_id",)
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    def __init__(self, class_id: _Optional[str] = ...) -> None: ...

class MapOptionRule(_message.Message):
    __slots__ = ("from_option_id", "to_option_id")
    FROM_OPTION_ID_FIELD_NUMBER: _ClassVar[int]
    TO_OPTION_ID_FIELD_NUMBER: _ClassVar[int]
    from_option_id: str
    to_option_id: str
    def __init__(self, from_option_id: _Optional[str] = ..., to_option_id: _Optional[str] = ...) -> None: ...

class MigrationRule(_message.Message):
    __slots__ = ("map_class", "merge_classes", "split_class", "drop_class", "map_option")
    MAP_CLASS_FIELD_NUMBER: _ClassVar[int]
    MERGE_CLASSES_FIELD_NUMBER: _ClassVar[int]
    SPLIT_CLASS_FIELD_NUMBER: _ClassVar[int]
    DROP_CLASS_FIELD_NUMBER: _ClassVar[int]
    MAP_OPTION_FIELD_NUMBER: _ClassVar[int]
    map_class: MapClassRule
    merge_classes: MergeClassesRule
    split_class: SplitClassRule
    drop_class: DropClassRule
    map_option: MapOptionRule
    def __init__(self, map_class: _Optional[_Union[MapClassRule, _Mapping]] = ..., merge_classes: _Optional[_Union[MergeClassesRule, _Mapping]] = ..., split_class: _Optional[_Union[SplitClassRule, _Mapping]] = ..., drop_class: _Optional[_Union[DropClassRule, _Mapping]] = ..., map_option: _Optional[_Union[MapOptionRule, _Mapping]] = ...) -> None: ...

class OntologyMigration(_message.Message):
    __slots__ = ("name", "ontology_id", "from_version", "to_version", "rules", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    ontology_id: str
    from_version: str
    to_version: str
    rules: _containers.RepeatedCompositeFieldContainer[MigrationRule]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., ontology_id: _Optional[str] = ..., from_version: _Optional[str] = ..., to_version: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[MigrationRule, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateOntologyRequest(_message.Message):
    __slots__ = ("ontology_id", "display_name", "description", "definition", "request_id")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    display_name: str
    description: str
    definition: _definition_pb2.OntologyDefinition
    request_id: str
    def __init__(self, ontology_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., definition: _Optional[_Union[_definition_pb2.OntologyDefinition, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateOntologyResponse(_message.Message):
    __slots__ = ("ontology",)
    ONTOLOGY_FIELD_NUMBER: _ClassVar[int]
    ontology: Ontology
    def __init__(self, ontology: _Optional[_Union[Ontology, _Mapping]] = ...) -> None: ...

class GetOntologyRequest(_message.Message):
    __slots__ = ("ontology_id",)
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    def __init__(self, ontology_id: _Optional[str] = ...) -> None: ...

class GetOntologyResponse(_message.Message):
    __slots__ = ("ontology",)
    ONTOLOGY_FIELD_NUMBER: _ClassVar[int]
    ontology: Ontology
    def __init__(self, ontology: _Optional[_Union[Ontology, _Mapping]] = ...) -> None: ...

class ListOntologiesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "show_deprecated")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SHOW_DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    show_deprecated: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., show_deprecated: _Optional[bool] = ...) -> None: ...

class ListOntologiesResponse(_message.Message):
    __slots__ = ("ontologies", "next_page_token")
    ONTOLOGIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ontologies: _containers.RepeatedCompositeFieldContainer[Ontology]
    next_page_token: str
    def __init__(self, ontologies: _Optional[_Iterable[_Union[Ontology, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateOntologyDraftRequest(_message.Message):
    __slots__ = ("ontology_id", "expected_revision", "edits", "request_id")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    expected_revision: int
    edits: _containers.RepeatedCompositeFieldContainer[DraftEdit]
    request_id: str
    def __init__(self, ontology_id: _Optional[str] = ..., expected_revision: _Optional[int] = ..., edits: _Optional[_Iterable[_Union[DraftEdit, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateOntologyDraftResponse(_message.Message):
    __slots__ = ("ontology",)
    ONTOLOGY_FIELD_NUMBER: _ClassVar[int]
    ontology: Ontology
    def __init__(self, ontology: _Optional[_Union[Ontology, _Mapping]] = ...) -> None: ...

class PublishOntologyVersionRequest(_message.Message):
    __slots__ = ("ontology_id", "expected_revision", "version", "notes", "request_id")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    expected_revision: int
    version: str
    notes: str
    request_id: str
    def __init__(self, ontology_id: _Optional[str] = ..., expected_revision: _Optional[int] = ..., version: _Optional[str] = ..., notes: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PublishOntologyVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: OntologyVersion
    def __init__(self, version: _Optional[_Union[OntologyVersion, _Mapping]] = ...) -> None: ...

class GetOntologyVersionRequest(_message.Message):
    __slots__ = ("ontology_id", "version")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    version: str
    def __init__(self, ontology_id: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class GetOntologyVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: OntologyVersion
    def __init__(self, version: _Optional[_Union[OntologyVersion, _Mapping]] = ...) -> None: ...

class DiffOntologyVersionsRequest(_message.Message):
    __slots__ = ("ontology_id", "from_version", "to_version")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    from_version: str
    to_version: str
    def __init__(self, ontology_id: _Optional[str] = ..., from_version: _Optional[str] = ..., to_version: _Optional[str] = ...) -> None: ...

class DiffOntologyVersionsResponse(_message.Message):
    __slots__ = ("changes", "breaking")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    BREAKING_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[DiffEntry]
    breaking: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[DiffEntry, _Mapping]]] = ..., breaking: _Optional[bool] = ...) -> None: ...

class CreateOntologyMigrationRequest(_message.Message):
    __slots__ = ("ontology_id", "from_version", "to_version", "rules", "request_id")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    from_version: str
    to_version: str
    rules: _containers.RepeatedCompositeFieldContainer[MigrationRule]
    request_id: str
    def __init__(self, ontology_id: _Optional[str] = ..., from_version: _Optional[str] = ..., to_version: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[MigrationRule, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateOntologyMigrationResponse(_message.Message):
    __slots__ = ("migration",)
    MIGRATION_FIELD_NUMBER: _ClassVar[int]
    migration: OntologyMigration
    def __init__(self, migration: _Optional[_Union[OntologyMigration, _Mapping]] = ...) -> None: ...

class DeprecateOntologyRequest(_message.Message):
    __slots__ = ("ontology_id", "reason", "request_id")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    reason: str
    request_id: str
    def __init__(self, ontology_id: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeprecateOntologyResponse(_message.Message):
    __slots__ = ("ontology",)
    ONTOLOGY_FIELD_NUMBER: _ClassVar[int]
    ontology: Ontology
    def __init__(self, ontology: _Optional[_Union[Ontology, _Mapping]] = ...) -> None: ...

class ValidateLabelsRequest(_message.Message):
    __slots__ = ("ontology_id", "version", "items")
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ontology_id: str
    version: str
    items: _containers.RepeatedCompositeFieldContainer[_label_pb2.ItemLabels]
    def __init__(self, ontology_id: _Optional[str] = ..., version: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_label_pb2.ItemLabels, _Mapping]]] = ...) -> None: ...

class LabelViolation(_message.Message):
    __slots__ = ("item_index", "label_index", "field", "description", "reason")
    ITEM_INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_index: int
    label_index: int
    field: str
    description: str
    reason: str
    def __init__(self, item_index: _Optional[int] = ..., label_index: _Optional[int] = ..., field: _Optional[str] = ..., description: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ValidateLabelsResponse(_message.Message):
    __slots__ = ("version", "valid_labels", "invalid_labels", "violations")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VALID_LABELS_FIELD_NUMBER: _ClassVar[int]
    INVALID_LABELS_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    version: str
    valid_labels: int
    invalid_labels: int
    violations: _containers.RepeatedCompositeFieldContainer[LabelViolation]
    def __init__(self, version: _Optional[str] = ..., valid_labels: _Optional[int] = ..., invalid_labels: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[LabelViolation, _Mapping]]] = ...) -> None: ...

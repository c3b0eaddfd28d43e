"""The ontology aggregate: state rebuilt from its events; decisions return new events.

One stream per ontology (``ontologies/{ontology_id}``). ``apply`` evolves the state by one event
(used both to rebuild from the store and to compute the state after a decision); the decide
methods (``create``, ``update_draft``, ``publish``, ``create_migration``, ``deprecate``) check
the rules and return the events to append, changing nothing. No I/O, no clock: time enters
through the events' metadata.

Rules (the acceptance of the service):

- ids are lowercase letters, digits and '-', 3-63 characters, starting and ending with a letter
  or digit; an id is used once, ever.
- The draft is always valid: a create or an update whose result fails
  ``validate_definition`` is refused with field violations, and nothing is stored.
- Draft changes and publications name the draft revision they were based on; a stale one is
  ABORTED (optimistic concurrency at the level users see).
- A published version never changes: its definition is in its event, and publishing an existing
  version number again is FAILED_PRECONDITION ``VERSION_IMMUTABLE``. Versions increase; an
  automatic version follows the semantic diff (``next_version``), an explicit one must be a
  large enough bump (``check_version_bump``). Publishing without changes since the last version
  is FAILED_PRECONDITION ``NO_CHANGES``.
- A migration ``from..to`` (from older than to) is created once; asking again with the same
  rules returns it, with other rules is FAILED_PRECONDITION ``MIGRATION_IMMUTABLE``.
- A deprecated ontology takes no draft changes and no new versions; its versions, migrations
  and label validation keep working.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from google.protobuf.timestamp_pb2 import Timestamp
from labelops.ontology.v1 import definition_pb2, events_pb2, ontology_pb2
from labelops_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from labelops_ontologykit import (
    check_migration,
    check_version_bump,
    diff_definitions,
    fingerprint,
    is_breaking,
    next_version,
    validate_definition,
)

from . import errors
from . import events as ev
from .commands import (
    CreateOntology,
    CreateOntologyMigration,
    DeprecateOntology,
    PublishOntologyVersion,
    UpdateOntologyDraft,
)
from .edits import MAX_EDITS_PER_REQUEST, apply_edits, copy_message

ONTOLOGY_ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
MAX_DISPLAY_NAME_CHARS: Final = 200
MAX_DESCRIPTION_CHARS: Final = 10_000
MAX_NOTES_CHARS: Final = 10_000
MAX_REASON_CHARS: Final = 1_000
MAX_VERSION_CHARS: Final = 64
#: Version aliases accepted where a published version is read.
LATEST: Final = "latest"
DRAFT: Final = "draft"

ACTIVE: Final = ontology_pb2.ONTOLOGY_STATE_ACTIVE
DEPRECATED: Final = ontology_pb2.ONTOLOGY_STATE_DEPRECATED


def ontology_id_problem(ontology_id: str) -> str | None:
    """Why ``ontology_id`` is not a valid id, or None."""
    if not ontology_id:
        return "required"
    if not ONTOLOGY_ID_PATTERN.fullmatch(ontology_id):
        return (
            f"{ontology_id[:80]!r} is not a valid ontology id: use 3-63 lowercase letters,"
            " digits and '-', starting and ending with a letter or digit"
        )
    return None


def check_ontology_id(ontology_id: str, field_name: str = "ontology_id") -> None:
    """Raise INVALID_ARGUMENT when ``ontology_id`` is empty or malformed."""
    problem = ontology_id_problem(ontology_id)
    if problem:
        raise InvalidArgument(f"{field_name}: {problem}", [FieldViolation(field_name, problem)])


def to_timestamp(dt: datetime | None) -> Timestamp:
    ts = Timestamp()
    if dt is not None:
        ts.FromDatetime(dt)
    return ts


def _prefixed(prefix: str, violations: Iterable[FieldViolation]) -> list[FieldViolation]:
    """Violations of a definition as paths into the request (``definition.classes[0].id``)."""
    out = []
    for v in violations:
        if v.field in ("", "definition"):
            out.append(FieldViolation(prefix, v.description))
        else:
            out.append(FieldViolation(f"{prefix}.{v.field}", v.description))
    return out


def _too_long(value: str, limit: int, name: str, out: list[FieldViolation]) -> None:
    if len(value) > limit:
        out.append(FieldViolation(name, f"at most {limit} characters (got {len(value)})"))


@dataclass
class PublishedVersion:
    """One immutable published version, as its ``OntologyVersionPublished`` event says."""

    version: str
    definition: definition_pb2.OntologyDefinition
    fingerprint: str
    previous_version: str
    changes: list[ontology_pb2.DiffEntry]
    breaking: bool
    notes: str
    draft_revision: int
    publish_time: datetime
    published_by: str

    def to_proto(self, ontology_id: str) -> ontology_pb2.OntologyVersion:
        return ontology_pb2.OntologyVersion(
            name=f"ontologies/{ontology_id}/versions/{self.version}",
            ontology_id=ontology_id,
            version=self.version,
            definition=self.definition,
            fingerprint=self.fingerprint,
            publish_time=to_timestamp(self.publish_time),
            published_by=self.published_by,
            notes=self.notes,
            changes=self.changes,
        )


@dataclass
class Migration:
    from_version: str
    to_version: str
    rules: list[ontology_pb2.MigrationRule]
    create_time: datetime

    def to_proto(self, ontology_id: str) -> ontology_pb2.OntologyMigration:
        return ontology_pb2.OntologyMigration(
            name=f"ontologies/{ontology_id}/migrations/{self.from_version}..{self.to_version}",
            ontology_id=ontology_id,
            from_version=self.from_version,
            to_version=self.to_version,
            rules=self.rules,
            create_time=to_timestamp(self.create_time),
        )


def _rules_key(rules: Sequence[ontology_pb2.MigrationRule]) -> list[bytes]:
    return [r.SerializeToString(deterministic=True) for r in rules]


@dataclass
class Ontology:
    """State of one ontology, rebuilt from its stream. ``version`` is the stream version."""

    ontology_id: str
    version: int = 0
    display_name: str = ""
    description: str = ""
    state: int = ontology_pb2.ONTOLOGY_STATE_UNSPECIFIED
    draft: definition_pb2.OntologyDefinition = field(
        default_factory=definition_pb2.OntologyDefinition
    )
    draft_revision: int = 0
    versions: list[PublishedVersion] = field(default_factory=list)
    migrations: dict[tuple[str, str], Migration] = field(default_factory=dict)
    deprecation_reason: str = ""
    create_time: datetime | None = None
    update_time: datetime | None = None
    tenant_id: str = ""

    # --- rebuilding ------------------------------------------------------------------------------

    @classmethod
    def rebuild(
        cls, ontology_id: str, history: Iterable[tuple[ev.Event, ev.EventMeta]]
    ) -> Ontology:
        """The state after ``history`` (in stream order); a fresh, non-existing one if empty."""
        agg = cls(ontology_id)
        for event, meta in history:
            agg.apply(event, meta)
        return agg

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, event: ev.Event, meta: ev.EventMeta) -> None:
        """Evolve the state by one event (already decided: it must apply)."""
        if isinstance(event, events_pb2.OntologyCreated):
            if self.exists:
                raise errors.ReplayError(f"ontology {self.ontology_id} created twice")
            self.display_name = event.display_name
            self.description = event.description
            self.draft = copy_message(event.definition)
            self.draft_revision = 1
            self.state = ACTIVE
            self.create_time = meta.occurred_at
        elif isinstance(event, events_pb2.OntologyDraftUpdated):
            try:
                self.draft = apply_edits(self.draft, event.edits)
            except InvalidArgument as exc:
                raise errors.ReplayError(
                    f"stored draft edits of {self.ontology_id} (revision"
                    f" {event.draft_revision}) no longer apply: {exc.message}"
                ) from exc
            self.draft_revision = event.draft_revision
        elif isinstance(event, events_pb2.OntologyVersionPublished):
            self.versions.append(
                PublishedVersion(
                    version=event.version,
                    definition=copy_message(event.definition),
                    fingerprint=event.fingerprint,
                    previous_version=event.previous_version,
                    changes=list(event.changes),
                    breaking=event.breaking,
                    notes=event.notes,
                    draft_revision=event.draft_revision,
                    publish_time=meta.occurred_at,
                    published_by=meta.actor_id,
                )
            )
        elif isinstance(event, events_pb2.OntologyMigrationCreated):
            self.migrations[(event.from_version, event.to_version)] = Migration(
                event.from_version, event.to_version, list(event.rules), meta.occurred_at
            )
        elif isinstance(event, events_pb2.OntologyDeprecated):
            self.state = DEPRECATED
            self.deprecation_reason = event.reason
        else:  # pragma: no cover - the event registry only holds the types above
            raise errors.ReplayError(f"unknown event {type(event).__name__}")
        self.version += 1
        self.update_time = meta.occurred_at

    # --- views -----------------------------------------------------------------------------------

    @property
    def latest(self) -> PublishedVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def version_names(self) -> list[str]:
        return [v.version for v in self.versions]

    def find_version(self, version: str) -> PublishedVersion:
        """A published version by number, or the newest for "" / "latest"; NOT_FOUND else."""
        if version in ("", LATEST):
            if not self.versions:
                raise errors.version_not_found(self.ontology_id, version or LATEST, [])
            return self.versions[-1]
        for v in self.versions:
            if v.version == version:
                return v
        raise errors.version_not_found(self.ontology_id, version, self.version_names)

    def to_proto(self, *, with_draft: bool = True) -> ontology_pb2.Ontology:
        msg = ontology_pb2.Ontology(
            name=f"ontologies/{self.ontology_id}",
            ontology_id=self.ontology_id,
            display_name=self.display_name,
            description=self.description,
            state=self.state,  # type: ignore[arg-type]
            draft_revision=self.draft_revision,
            versions=self.version_names,
            create_time=to_timestamp(self.create_time),
            update_time=to_timestamp(self.update_time),
        )
        if with_draft:
            msg.draft.CopyFrom(self.draft)
        return msg

    # --- decisions -------------------------------------------------------------------------------

    def _require_exists(self) -> None:
        if not self.exists:
            raise errors.ontology_not_found(self.ontology_id)

    def _require_active(self, action: str) -> None:
        if self.state == DEPRECATED:
            raise errors.ontology_deprecated(self.ontology_id, action)

    def _require_revision(self, expected: int) -> None:
        if expected != self.draft_revision:
            raise errors.revision_mismatch(self.ontology_id, expected, self.draft_revision)

    def create(self, cmd: CreateOntology) -> list[ev.Event]:
        """OntologyCreated, if the id is free and the input valid."""
        bad: list[FieldViolation] = []
        problem = ontology_id_problem(cmd.ontology_id)
        if problem:
            bad.append(FieldViolation("ontology_id", problem))
        if not cmd.display_name.strip():
            bad.append(FieldViolation("display_name", "required: a name people recognise"))
        _too_long(cmd.display_name, MAX_DISPLAY_NAME_CHARS, "display_name", bad)
        _too_long(cmd.description, MAX_DESCRIPTION_CHARS, "description", bad)
        bad += _prefixed("definition", validate_definition(cmd.definition))
        if bad:
            raise errors.invalid(
                "the ontology cannot be created: "
                + "; ".join(f"{v.field}: {v.description}" for v in bad[:3])
                + (f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""),
                bad,
                errors.INVALID_DEFINITION,
            )
        if self.exists:
            raise errors.ontology_already_exists(self.ontology_id)
        return [
            ev.ontology_created(
                cmd.ontology_id, cmd.display_name.strip(), cmd.description, cmd.definition
            )
        ]

    def update_draft(self, cmd: UpdateOntologyDraft) -> list[ev.Event]:
        """OntologyDraftUpdated with the next revision, if the edits apply and the result is
        a valid definition."""
        self._require_exists()
        bad: list[FieldViolation] = []
        if cmd.expected_revision <= 0:
            bad.append(
                FieldViolation(
                    "expected_revision",
                    "required: the draft_revision you read (GetOntology); the edits apply"
                    " only if the draft is still at that revision",
                )
            )
        if not cmd.edits:
            bad.append(FieldViolation("edits", "required: at least one edit"))
        elif len(cmd.edits) > MAX_EDITS_PER_REQUEST:
            bad.append(
                FieldViolation(
                    "edits",
                    f"at most {MAX_EDITS_PER_REQUEST} edits per request (got {len(cmd.edits)});"
                    " split them, or send the whole definition with one replace edit",
                )
            )
        if bad:
            raise errors.invalid(bad[0].description, bad)
        self._require_active("change its draft")
        self._require_revision(cmd.expected_revision)
        new_draft = apply_edits(self.draft, cmd.edits)
        problems = _prefixed("draft", validate_definition(new_draft))
        if problems:
            raise errors.invalid(
                f"the draft would be invalid after these edits ({len(problems)} problems: "
                + "; ".join(f"{v.field}: {v.description}" for v in problems[:3])
                + "); nothing was changed",
                problems,
                errors.INVALID_DEFINITION,
            )
        return [ev.draft_updated(self.ontology_id, cmd.edits, self.draft_revision + 1)]

    def publish(self, cmd: PublishOntologyVersion) -> list[ev.Event]:
        """OntologyVersionPublished with the draft as an immutable version."""
        self._require_exists()
        bad: list[FieldViolation] = []
        if cmd.expected_revision <= 0:
            bad.append(
                FieldViolation(
                    "expected_revision",
                    "required: the draft_revision you reviewed (GetOntology); the draft is"
                    " published only if it is still at that revision",
                )
            )
        if len(cmd.version) > MAX_VERSION_CHARS:
            bad.append(FieldViolation("version", f"at most {MAX_VERSION_CHARS} characters"))
        elif cmd.version in (LATEST, DRAFT):
            bad.append(
                FieldViolation("version", "a version number like 1.2.0, or empty for automatic")
            )
        _too_long(cmd.notes, MAX_NOTES_CHARS, "notes", bad)
        if bad:
            raise errors.invalid(bad[0].description, bad)
        self._require_active("publish new versions")
        self._require_revision(cmd.expected_revision)
        if cmd.version and cmd.version in self.version_names:
            raise FailedPrecondition(
                f"version {cmd.version} of ontology {self.ontology_id!r} is already published"
                " and a published version never changes; publish under a new version number"
                " (leave version empty to get the next one)",
                reason=errors.VERSION_IMMUTABLE,
                metadata={"ontology_id": self.ontology_id, "version": cmd.version},
            )
        problems = validate_definition(self.draft)
        if problems:
            # Unreachable while every draft change is validated; kept because the rules of
            # validate_definition may tighten after a draft was stored.
            raise errors.draft_invalid(self.ontology_id, problems)
        previous = self.latest
        changes = diff_definitions(previous.definition, self.draft) if previous else []
        if previous is not None and not changes:
            raise FailedPrecondition(
                f"nothing changed in the draft of ontology {self.ontology_id!r} since version"
                f" {previous.version}; edit the draft before publishing",
                reason=errors.NO_CHANGES,
                metadata={"ontology_id": self.ontology_id, "latest_version": previous.version},
            )
        previous_name = previous.version if previous else None
        if cmd.version:
            version_problems = check_version_bump(previous_name, cmd.version, changes)
            if version_problems:
                raise errors.invalid(
                    f"version {cmd.version!r} cannot be published: "
                    + "; ".join(v.description for v in version_problems),
                    version_problems,
                    errors.INVALID_VERSION,
                )
            version = cmd.version
        else:
            version = next_version(previous_name, changes)
        return [
            ev.version_published(
                self.ontology_id,
                version,
                self.draft,
                fingerprint(self.draft),
                previous_name or "",
                changes,
                is_breaking(changes),
                cmd.notes,
                self.draft_revision,
            )
        ]

    def create_migration(self, cmd: CreateOntologyMigration) -> list[ev.Event]:
        """OntologyMigrationCreated; no event when the same migration already exists."""
        self._require_exists()
        bad: list[FieldViolation] = []
        for name, value in (("from_version", cmd.from_version), ("to_version", cmd.to_version)):
            if not value:
                bad.append(FieldViolation(name, "required: a published version number"))
        if bad:
            raise errors.invalid(bad[0].description, bad)
        names = self.version_names
        source = self.find_version(cmd.from_version)
        target = self.find_version(cmd.to_version)
        if names.index(source.version) >= names.index(target.version):
            raise errors.invalid(
                f"a migration goes from an older to a newer version; {cmd.from_version} is not"
                f" older than {cmd.to_version}",
                [FieldViolation("to_version", f"must be newer than {cmd.from_version}")],
                errors.INVALID_MIGRATION,
            )
        existing = self.migrations.get((source.version, target.version))
        if existing is not None:
            if _rules_key(existing.rules) == _rules_key(cmd.rules):
                return []
            raise FailedPrecondition(
                f"migration {source.version}..{target.version} of ontology"
                f" {self.ontology_id!r} already exists with other rules, and migrations never"
                " change once created",
                reason=errors.MIGRATION_IMMUTABLE,
                metadata={
                    "ontology_id": self.ontology_id,
                    "from_version": source.version,
                    "to_version": target.version,
                },
            )
        problems = check_migration(source.definition, target.definition, cmd.rules)
        if problems:
            raise errors.invalid(
                f"migration {source.version}..{target.version} is not valid: "
                + "; ".join(f"{v.field}: {v.description}" for v in problems[:3])
                + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""),
                problems,
                errors.INVALID_MIGRATION,
            )
        return [ev.migration_created(self.ontology_id, source.version, target.version, cmd.rules)]

    def deprecate(self, cmd: DeprecateOntology) -> list[ev.Event]:
        """OntologyDeprecated, once."""
        self._require_exists()
        bad: list[FieldViolation] = []
        _too_long(cmd.reason, MAX_REASON_CHARS, "reason", bad)
        if bad:
            raise errors.invalid(bad[0].description, bad)
        if self.state == DEPRECATED:
            raise FailedPrecondition(
                f"ontology {self.ontology_id!r} is already deprecated",
                reason=errors.ONTOLOGY_DEPRECATED,
                metadata={"ontology_id": self.ontology_id},
            )
        return [ev.ontology_deprecated(self.ontology_id, cmd.reason)]

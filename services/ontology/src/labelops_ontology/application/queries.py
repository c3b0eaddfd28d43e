"""Queries: ontologies, versions, diffs and label validation, from the read models.

Label validation compiles a published version once and keeps it (``OntologyCache``): a
published version never changes, so a compiled one never goes stale (the cache is bounded only
to cap memory; an evicted version is compiled again, identically).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import definition_pb2, ontology_pb2
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument
from labelops_ontologykit import OntologyCache, diff_definitions, is_breaking

from ..adapters.read_model import OntologyReadModel, PageCursor
from ..domain import errors
from ..domain.ontology import DRAFT, LATEST, check_ontology_id

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000


def _encode_token(cursor: PageCursor, show_deprecated: bool) -> str:
    raw = json.dumps(
        {"t": cursor.create_time.isoformat(), "i": cursor.ontology_id, "d": show_deprecated},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str, show_deprecated: bool) -> PageCursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        cursor = PageCursor(datetime.fromisoformat(data["t"]), str(data["i"]))
        issued_for = bool(data["d"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidArgument(
            "page_token is not one this server issued",
            [FieldViolation("page_token", "malformed: pass next_page_token unchanged")],
        ) from exc
    if issued_for != show_deprecated:
        # AIP-158: the other request fields must match the call that returned the token.
        raise InvalidArgument(
            "page_token was issued for a different show_deprecated",
            [FieldViolation("page_token", "show_deprecated must not change between pages")],
        )
    return cursor


class OntologyQueries:
    """The read side of the ontology service.

    Args:
        read_model: the service's read-model tables.
        compiled_cache_size: compiled published versions kept for ValidateLabels.
    """

    def __init__(self, read_model: OntologyReadModel, *, compiled_cache_size: int = 256) -> None:
        self.read_model = read_model
        # Keyed by tenant and exact version: "latest" is resolved per call, before the cache;
        # the fetch runs in the caller's context (its tenant).
        self.compiled = OntologyCache(self._fetch_definition, max_entries=compiled_cache_size)

    async def get_ontology(self, ontology_id: str) -> ontology_pb2.GetOntologyResponse:
        check_ontology_id(ontology_id)
        ontology = await self.read_model.get_ontology(current_tenant(), ontology_id)
        if ontology is None:
            raise errors.ontology_not_found(ontology_id)
        return ontology_pb2.GetOntologyResponse(ontology=ontology)

    async def list_ontologies(
        self, page_size: int, page_token: str, show_deprecated: bool
    ) -> ontology_pb2.ListOntologiesResponse:
        if page_size < 0:
            raise InvalidArgument(
                "page_size must not be negative", [FieldViolation("page_size", "negative")]
            )
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = _decode_token(page_token, show_deprecated) if page_token else None
        rows = await self.read_model.list_ontologies(
            current_tenant(), after=after, limit=size + 1, show_deprecated=show_deprecated
        )
        page = rows[:size]
        response = ontology_pb2.ListOntologiesResponse(ontologies=[o for o, _ in page])
        if len(rows) > size:
            response.next_page_token = _encode_token(page[-1][1], show_deprecated)
        return response

    async def _versions(self, ontology_id: str) -> list[str]:
        versions = await self.read_model.published_versions(current_tenant(), ontology_id)
        if versions is None:
            raise errors.ontology_not_found(ontology_id)
        return versions

    @staticmethod
    def _resolve(ontology_id: str, version: str, versions: Sequence[str]) -> str:
        if version == DRAFT:
            raise InvalidArgument(
                "version: the draft is not a published version (GetOntology returns it, and"
                " labels are validated against published versions only)",
                [FieldViolation("version", "a published version number, or empty for latest")],
            )
        if version in ("", LATEST):
            if not versions:
                raise errors.version_not_found(ontology_id, LATEST, versions)
            return versions[-1]
        if version not in versions:
            raise errors.version_not_found(ontology_id, version, versions)
        return version

    async def _version(self, ontology_id: str, version: str) -> ontology_pb2.OntologyVersion:
        versions = await self._versions(ontology_id)
        name = self._resolve(ontology_id, version, versions)
        body = await self.read_model.get_version(current_tenant(), ontology_id, name)
        if body is None:  # pragma: no cover - versions and rows commit together
            raise errors.version_not_found(ontology_id, name, versions)
        return ontology_pb2.OntologyVersion.FromString(body)

    async def get_ontology_version(
        self, ontology_id: str, version: str
    ) -> ontology_pb2.GetOntologyVersionResponse:
        check_ontology_id(ontology_id)
        return ontology_pb2.GetOntologyVersionResponse(
            version=await self._version(ontology_id, version)
        )

    async def _definition(
        self, ontology_id: str, version: str
    ) -> definition_pb2.OntologyDefinition:
        if version == DRAFT:
            found = await self.read_model.get_draft(current_tenant(), ontology_id)
            if found is None:
                raise errors.ontology_not_found(ontology_id)
            return found[0]
        return (await self._version(ontology_id, version)).definition

    async def diff_ontology_versions(
        self, ontology_id: str, from_version: str, to_version: str
    ) -> ontology_pb2.DiffOntologyVersionsResponse:
        """Changes from ``from_version`` (default: latest) to ``to_version`` (default: the
        draft); either may be a version number, "latest" or "draft"."""
        check_ontology_id(ontology_id)
        old = await self._definition(ontology_id, from_version or LATEST)
        new = await self._definition(ontology_id, to_version or DRAFT)
        changes = await asyncio.to_thread(diff_definitions, old, new)
        return ontology_pb2.DiffOntologyVersionsResponse(
            changes=changes, breaking=is_breaking(changes)
        )

    async def _fetch_definition(
        self, ontology_id: str, version: str
    ) -> definition_pb2.OntologyDefinition:
        return (await self._version(ontology_id, version)).definition

    async def validate_labels(
        self, ontology_id: str, version: str, items: Sequence[label_pb2.ItemLabels]
    ) -> ontology_pb2.ValidateLabelsResponse:
        """Per-label violations of ``items`` against a published version (default: latest).

        Bad labels are the answer, not an error: only an unknown ontology or version fails.
        """
        check_ontology_id(ontology_id)
        name = self._resolve(ontology_id, version, await self._versions(ontology_id))
        compiled = await self.compiled.get(ontology_id, name, scope=current_tenant())
        issues = await asyncio.to_thread(compiled.validate_items, items)
        invalid = {(i.item_index, i.label_index) for i in issues if i.label_index >= 0}
        total = sum(len(item.labels) for item in items)
        return ontology_pb2.ValidateLabelsResponse(
            version=name,
            valid_labels=total - len(invalid),
            invalid_labels=len(invalid),
            violations=[i.to_proto() for i in issues],
        )

"""The embedder port: what the curation service needs from anything that turns items into vectors.

Built-ins (adapters/embedders) and the external HTTP adapter implement ``Embedder``; caller-
supplied vectors bypass embedders entirely (they are stored under the dataset's ``custom``
vector space as given, after a dimension check).

Contract every implementation keeps (tests/unit/test_curation_embedder_contract.py runs it
against each one):

- ``embed`` returns a float32 array of shape ``(len(inputs), dim)``, each row L2-normalized
  (cosine similarity = dot product), in input order, deterministic for the same input.
- An input the embedder cannot use (wrong modality, no content) raises ``EmbeddingError``
  naming the input's index; nothing is returned for the batch.
- ``embed([])`` returns an empty ``(0, dim)`` array.

Optional attribute ``needs_content`` (default True): when False the service also hands the
embedder items whose bytes it could not read (remote URIs), with ``content=None``; an external
model server that fetches URIs itself sets it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

#: Modalities as they appear in events and in embedder declarations.
MODALITIES = frozenset({"image", "video", "text", "audio", "dicom"})


@dataclass(frozen=True)
class EmbedInput:
    """One item as an embedder sees it.

    ``content``: the item's bytes when the service could read them (``file://`` and ``data:``
    URIs, inline text as UTF-8); None otherwise (an external embedder may fetch ``uri`` itself).
    ``text``: the item's text for text items (decoded ``content`` or the inline text).
    """

    item_id: str
    modality: str
    uri: str
    content: bytes | None = None
    text: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class EmbeddingError(Exception):
    """An input could not be embedded. ``index`` is its position in the batch (or -1 when the
    whole batch failed, e.g. an external server is down)."""

    def __init__(self, message: str, *, index: int = -1) -> None:
        super().__init__(message)
        self.index = index


@runtime_checkable
class Embedder(Protocol):
    """Turns items of some modalities into fixed-size unit vectors."""

    #: Stable name; part of the Qdrant collection name, so lowercase ``[a-z0-9-]``.
    name: str
    #: Version of the model / feature recipe; stored with every vector.
    model_version: str
    #: Vector size.
    dim: int
    #: Modalities this embedder accepts.
    modalities: frozenset[str]

    async def embed(self, inputs: Sequence[EmbedInput]) -> np.ndarray: ...


@runtime_checkable
class QueryEmbedder(Embedder, Protocol):
    """An embedder that can also embed free-text queries into the same space
    (natural-language search)."""

    async def embed_query(self, texts: Sequence[str]) -> np.ndarray: ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero); float32."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)

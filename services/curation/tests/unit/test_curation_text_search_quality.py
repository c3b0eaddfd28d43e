"""Natural-language search quality of the text embedder on the shipped sample
(services/curation/samples/text_sample.jsonl): hand-written short texts in ten topics of 20
lines, one rare topic (3 lines about beekeeping) and a few exact / near-duplicate lines that
carry ``duplicate_of``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from labelops_curation.adapters.embedders.text_minilm import TextMiniLMEmbedder
from labelops_curation.domain.embedding import EmbedInput

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "text_sample.jsonl"


def load_sample() -> list[dict[str, Any]]:
    with SAMPLE.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


ROWS = load_sample()


class Index:
    def __init__(self, embedder: TextMiniLMEmbedder, vectors: np.ndarray) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.topics = [r["topic"] for r in ROWS]

    async def search(self, query: str, k: int) -> list[tuple[str, float]]:
        q = (await self.embedder.embed_query([query]))[0]
        scores = self.vectors @ q
        top = np.argsort(-scores, kind="stable")[:k]
        return [(self.topics[i], float(scores[i])) for i in top]


@pytest.fixture(scope="module")
async def index() -> Index:
    embedder = TextMiniLMEmbedder()
    inputs = [
        EmbedInput(item_id=r["external_id"], modality="text", uri=f"data:,{i}", text=r["text"])
        for i, r in enumerate(ROWS)
    ]
    return Index(embedder, await embedder.embed(inputs))


def test_sample_layout() -> None:
    assert 150 <= len(ROWS) <= 300
    ids = [r["external_id"] for r in ROWS]
    assert len(set(ids)) == len(ids)
    topics = Counter(r["topic"] for r in ROWS if "duplicate_of" not in r)
    assert len(topics) == 11
    assert topics["beekeeping"] == 3
    assert all(15 <= n <= 30 for t, n in topics.items() if t != "beekeeping")
    duplicates = [r for r in ROWS if "duplicate_of" in r]
    assert 4 <= len(duplicates) <= 10
    by_id = {r["external_id"]: r for r in ROWS}
    for dup in duplicates:
        assert by_id[dup["duplicate_of"]]["topic"] == dup["topic"]
    assert any(by_id[d["duplicate_of"]]["text"] == d["text"] for d in duplicates)  # one exact


QUERIES = [
    ("how do I fix my car's brakes", "car_repair"),
    ("the engine overheats", "car_repair"),
    ("stars and planets in the night sky", "astronomy"),
    ("galaxies and black holes", "astronomy"),
    ("my dog is sick", "pets"),
    ("my cat is unwell and not eating", "pets"),
    ("easy pasta recipe for dinner", "cooking"),
    ("baking bread and cakes", "cooking"),
    ("who won the football match", "football"),
    ("goal scored by the striker", "football"),
    ("python exception traceback", "programming"),
    ("bug in my code", "programming"),
    ("will it rain tomorrow", "weather"),
    ("storm and strong wind warning", "weather"),
    ("interest rate on my savings account", "finance"),
    ("bank loan and credit card", "finance"),
    ("cheap flights and hotels for a vacation", "travel"),
    ("holiday abroad", "travel"),
    ("headache and fever symptoms", "medical"),
    ("doctor visit for chest pain", "medical"),
]


@pytest.mark.parametrize(("query", "topic"), QUERIES)
async def test_top5_are_from_the_query_topic(index: Index, query: str, topic: str) -> None:
    hits = await index.search(query, 5)
    assert [t for t, _ in hits] == [topic] * 5, hits


async def test_rare_topic_is_found(index: Index) -> None:
    hits = await index.search("keeping honey bees", 5)
    assert [t for t, _ in hits[:3]] == ["beekeeping"] * 3, hits
    # ... and clearly apart from the rest.
    assert hits[2][1] - hits[3][1] > 0.15


async def test_near_duplicates_are_close(index: Index) -> None:
    position = {r["external_id"]: i for i, r in enumerate(ROWS)}
    for i, row in enumerate(ROWS):
        if "duplicate_of" in row:
            original = index.vectors[position[row["duplicate_of"]]]
            assert float(index.vectors[i] @ original) >= 0.9, row


async def test_nearest_neighbour_of_a_line_shares_its_topic(index: Index) -> None:
    # Leave-one-out 1-NN topic accuracy over the whole sample: a coarse check of the space.
    sims = index.vectors @ index.vectors.T
    np.fill_diagonal(sims, -np.inf)
    nearest = sims.argmax(axis=1)
    agree = np.mean([index.topics[i] == index.topics[j] for i, j in enumerate(nearest)])
    assert agree >= 0.9

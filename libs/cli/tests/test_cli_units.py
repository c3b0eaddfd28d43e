"""The CLI's pieces that need no server: input files → protobuf, event decoding, error lines,
dev credentials, the report page. (The CLI against running services: tests/test_cli_*.py.)"""

from __future__ import annotations

import io
import json
from pathlib import Path

import grpc
import pytest
from labelops.curation.v1 import curation_pb2 as cpb
from labelops.events.v1 import envelope_pb2
from labelops.ontology.v1 import definition_pb2 as dpb
from labelops.ontology.v1 import events_pb2 as oev
from labelops.prelabel.v1 import prelabel_pb2 as ppb
from labelops.qa.v1 import qa_pb2 as qpb
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_cli import stack
from labelops_cli.commands import events, items, ontology, report
from labelops_cli.grpc import CliError, describe
from labelops_cli.inputs import load_message, parse_message
from labelops_core.errors import FieldViolation
from labelops_grpckit import Authenticator, rich_status


def test_short_enum_names_in_any_case_are_expanded_deep_inside_messages() -> None:
    d = parse_message(
        {
            "classes": [
                {"id": "car", "name": "Car", "geometry": "bounding-box"},
                {"id": "p", "name": "P", "geometry": "GEOMETRY_KIND_POINT"},
                {
                    "id": "t",
                    "name": "T",
                    "geometry": "classification",
                    "classifications": [{"id": "c", "name": "C", "kind": "radio"}],
                },
            ]
        },
        dpb.OntologyDefinition,
        "x.json",
    )
    assert [c.geometry for c in d.classes] == [
        dpb.GEOMETRY_KIND_BOUNDING_BOX,
        dpb.GEOMETRY_KIND_POINT,
        dpb.GEOMETRY_KIND_CLASSIFICATION,
    ]
    assert d.classes[2].classifications[0].kind == dpb.CLASSIFICATION_KIND_RADIO


def test_unreadable_files_are_named_with_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "o.json"
    bad.write_text('{"classes": [')
    with pytest.raises(CliError, match=r"o\.json: not valid JSON \(.* at line 1\)"):
        load_message(bad, dpb.OntologyDefinition)
    bad.write_text(json.dumps({"classes": [{"id": "a", "geometry": "hexagon"}]}))
    with pytest.raises(CliError, match=r"o\.json: .*hexagon"):
        load_message(bad, dpb.OntologyDefinition)
    with pytest.raises(CliError, match=r"missing\.yaml: "):
        load_message(tmp_path / "missing.yaml", dpb.OntologyDefinition)


def test_ontology_file_may_be_a_definition_or_a_whole_request() -> None:
    bare = ontology.request_from_document(
        {"classes": [{"id": "a", "name": "A", "geometry": "point"}]},
        "f",
        ontology_id="o1",
        display_name="One",
        description="",
    )
    assert (bare.ontology_id, bare.display_name, len(bare.definition.classes)) == ("o1", "One", 1)
    whole = ontology.request_from_document(
        {"ontology_id": "o2", "display_name": "Two", "definition": {"classes": []}},
        "f",
        ontology_id="",
        display_name="Override",
        description="",
    )
    assert (whole.ontology_id, whole.display_name) == ("o2", "Override")
    assert whole.request_id
    with pytest.raises(CliError, match=r"unknown keys \['clases'\]"):
        ontology.request_from_document(
            {"ontology_id": "o", "clases": []}, "f", ontology_id="", display_name="", description=""
        )


def test_jsonl_lines_get_ids_uris_modality_and_metadata_by_default(tmp_path: Path) -> None:
    src = tmp_path / "notes.jsonl"
    spec = items.spec_from_json({"text": "hello", "topic": "greeting", "n": 3}, src, 7)
    assert spec.external_id == "notes.jsonl:7"
    assert spec.uri == f"{src.resolve().as_uri()}#L7"
    assert spec.modality == cpb.MODALITY_TEXT
    assert dict(spec.metadata) == {"topic": "greeting", "n": "3"}
    img = items.spec_from_json({"external_id": "i1", "uri": "s3://b/cat.JPG"}, src, 1)
    assert img.modality == cpb.MODALITY_IMAGE
    vid = items.spec_from_json({"uri": "s3://b/x", "modality": "video", "durationMs": 5}, src, 2)
    assert (vid.modality, vid.duration_ms) == (cpb.MODALITY_VIDEO, 5)
    with pytest.raises(CliError, match=r"notes\.jsonl:3: 'uri' is required"):
        items.spec_from_json({"external_id": "x", "modality": "image"}, src, 3)
    with pytest.raises(CliError, match=r"notes\.jsonl:4: 'modality' is required"):
        items.spec_from_json({"uri": "s3://b/blob.bin"}, src, 4)
    with pytest.raises(CliError, match=r"notes\.jsonl:5: .*width"):
        items.spec_from_json({"uri": "s3://b/a.png", "width": "wide"}, src, 5)


def test_folder_files_become_items_text_inline_images_with_size_and_checksum(
    tmp_path: Path,
) -> None:
    from PIL import Image

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a note")
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), "red").save(buf, "PNG")
    (tmp_path / "b.png").write_bytes(buf.getvalue())
    (tmp_path / "c.bin").write_bytes(b"?")
    (tmp_path / ".hidden.txt").write_text("no")
    src = items.open_source(tmp_path)
    assert (src.total, src.skipped) == (2, 1)
    got = {s.external_id: s for s in src.specs()}
    assert sorted(got) == ["b.png", "sub/a.txt"]
    assert got["sub/a.txt"].text == "a note" and got["sub/a.txt"].modality == cpb.MODALITY_TEXT
    png = got["b.png"]
    assert (png.width, png.height, png.size_bytes) == (7, 5, len(buf.getvalue()))
    assert png.checksum.startswith("sha256:") and png.uri.startswith("file:///")
    batches = list(items.batches(iter([png] * 5), 2))
    assert [len(b) for b in batches] == [2, 2, 1]


def _envelope(type_name: str, payload: bytes) -> bytes:
    env = envelope_pb2.EventEnvelope(
        event_id="e1",
        type=type_name,
        stream_id="ontologies/pets",
        stream_version=2,
        payload=payload,
        source="ontology",
    )
    env.occurred_at.FromSeconds(1_700_000_000)
    env.actor.kind = envelope_pb2.ACTOR_KIND_USER
    env.actor.id = "lead"
    return env.SerializeToString()


def test_events_are_decoded_by_their_type_name() -> None:
    published = oev.OntologyVersionPublished(ontology_id="pets", version="1.2.0")
    event = events.decode(
        _envelope("labelops.ontology.v1.OntologyVersionPublished", published.SerializeToString())
    )
    assert event["payload"] == {"ontology_id": "pets", "version": "1.2.0"}
    assert event["time"] == "2023-11-14T22:13:20.000+00:00"
    assert event["actor"] == {"kind": "user", "id": "lead"}
    line = events.render(event, max_payload=0).plain
    assert "ontology.v1.OntologyVersionPublished  ontologies/pets@2" in line
    assert line.endswith('{"ontology_id":"pets","version":"1.2.0"}')
    assert events.render(event, max_payload=10).plain.endswith('{"ontolog…')

    unknown = events.decode(_envelope("labelops.nowhere.v1.Thing", b"\x08\x01"))
    assert unknown["decode_error"] == "unknown type labelops.nowhere.v1.Thing"
    assert unknown["payload_b64"] == "CAE="
    assert "not an EventEnvelope" in events.decode(b"\xff\xff\xff")["decode_error"]

    assert events.type_matches("labelops.qa.v1.LabelAccepted", ["LabelAccepted"])
    assert events.type_matches("labelops.qa.v1.LabelAccepted", ["labelops.qa.v1.LabelAccepted"])
    assert not events.type_matches("labelops.qa.v1.LabelAccepted", ["Accepted"])
    assert events.register_all_messages() >= 17


def test_a_failed_call_is_one_line_with_reason_and_field_violations() -> None:
    status = rich_status(
        grpc.StatusCode.INVALID_ARGUMENT,
        "2 invalid\nfield(s)",
        reason="BAD_DEFINITION",
        violations=[
            FieldViolation("display_name", "required"),
            FieldViolation("definition.classes[0].id", "duplicate"),
        ],
    )
    error = grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        details=status.details,
    )
    assert describe(error, "ontology", "h:1") == (
        "ontology: INVALID_ARGUMENT: 2 invalid field(s) [BAD_DEFINITION] — "
        "display_name: required; definition.classes[0].id: duplicate"
    )
    spelled_out = rich_status(
        grpc.StatusCode.INVALID_ARGUMENT,
        "cannot create: display_name: required",
        reason="INVALID_DEFINITION",
        violations=[FieldViolation("display_name", "required")],
    )
    said_once = grpc.aio.AioRpcError(
        spelled_out.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*spelled_out.trailing_metadata),
        details=spelled_out.details,
    )
    assert describe(said_once, "ontology") == (
        "ontology: INVALID_ARGUMENT: cannot create: display_name: required [INVALID_DEFINITION]"
    )
    down = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details="refused"
    )
    assert describe(down, "qa", "127.0.0.1:9") == (
        "qa: UNAVAILABLE: refused (is qa running at 127.0.0.1:9? see `labelops status`)"
    )


def test_dev_keys_are_valid_credentials_and_the_admin_key_is_found(tmp_path: Path) -> None:
    path = tmp_path / "run" / "api-keys.json"
    assert stack.ensure_api_keys(path)
    keys = json.loads(path.read_text())
    auth = Authenticator(keys)  # raises on a malformed entry
    admin = stack.admin_key(path)
    assert admin is not None and auth.authenticate_api_key(admin).has_role("admin")
    kinds = sorted((p.kind, p.vendor_id or "") for p in map(auth.authenticate_api_key, keys))
    assert kinds == [("user", ""), ("user", ""), ("vendor", "vendor-a"), ("vendor", "vendor-b")]
    assert stack.admin_key(tmp_path / "none.json") is None
    assert stack.split_target("[::1]:50051") == ("::1", 50051)
    with pytest.raises(ValueError):
        stack.split_target("localhost")


def test_the_report_page_shows_every_section_escaped_and_what_was_unavailable() -> None:
    pf = report.ProjectFigures(
        rpb.Project(project_id="p<1>", ontology_id="o", tasks_total=5, tasks_labeled=3)
    )
    pf.queues = [rpb.QueueStats(pool_id="in-house", depth=3, oldest_age_seconds=12.6)]
    pf.agreement = [qpb.AgreementReport(items=4, annotators=2, krippendorff_alpha=0.5)]
    pf.roi = [ppb.ClassRoi(class_id="cat", enabled=True, prelabeled=3)]
    pf.errors = ["annotator quality: qa: UNAVAILABLE"]
    figs = report.Figures(
        health={"ontology": "SERVING", "qa": "UNREACHABLE"},
        projects=[pf],
        errors=["curation datasets: curation: UNAVAILABLE"],
    )
    page = report.render_html(figs)
    assert page.startswith("<!doctype html>") and page.endswith("</body></html>\n")
    assert "<td class='ok'>SERVING</td>" in page and "<td>UNREACHABLE</td>" in page
    assert "<h3>p&lt;1&gt; — </h3>" in page and "3 of 5 tasks labeled" in page
    assert '<td>in-house</td><td class="n">3</td>' in page and '<td class="n">13</td>' in page
    assert "no gold answers yet" in page and "no dataset versions" in page
    assert "<p class='bad'>annotator quality: qa: UNAVAILABLE</p>" in page
    assert "<h2>Not available</h2>" in page

    assert "no projects" in report.render_html(report.Figures())

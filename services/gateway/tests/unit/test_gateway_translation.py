"""The gateway's translations without any server: status table, credentials, JSON ↔ proto,
body schemas, SSE framing."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI, Request
from labelops.events.v1 import envelope_pb2
from labelops.ontology.v1 import events_pb2 as oev
from labelops.ontology.v1 import ontology_pb2 as ont
from labelops.routing.v1 import routing_pb2 as rt
from labelops_core.errors import InvalidArgument, Unauthenticated
from labelops_gateway.adapters.events import decode_record
from labelops_gateway.adapters.version_store import StoreIntegrityError, store_root
from labelops_gateway.entrypoints.credentials import metadata_from_headers
from labelops_gateway.entrypoints.errors import http_status
from labelops_gateway.entrypoints.event_stream import format_event
from labelops_gateway.entrypoints.proto_schema import SchemaRegistry
from labelops_gateway.entrypoints.protojson import parse, to_json


@pytest.mark.parametrize(
    ("code", "reason", "message", "status"),
    [
        ("NOT_FOUND", "", "", 404),
        ("ALREADY_EXISTS", "", "", 409),
        ("INVALID_ARGUMENT", "", "", 400),
        ("ABORTED", "STREAM_VERSION_CONFLICT", "", 409),
        ("FAILED_PRECONDITION", "", "", 400),
        ("PERMISSION_DENIED", "", "", 403),
        ("UNAUTHENTICATED", "", "", 401),
        ("RESOURCE_EXHAUSTED", "TOO_MANY_STREAMS", "", 429),
        ("RESOURCE_EXHAUSTED", "BATCH_TOO_LARGE", "", 413),
        ("RESOURCE_EXHAUSTED", "", "Received message larger than max (9 vs. 8)", 413),
        ("UNAVAILABLE", "", "", 503),
        ("INTERNAL", "", "", 500),
        ("DEADLINE_EXCEEDED", "", "", 500),
        ("UNKNOWN", "", "", 500),
    ],
)
def test_status_table_of_the_conventions(code: str, reason: str, message: str, status: int) -> None:
    assert http_status(code, reason, message) == status


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return Request({"type": "http", "headers": raw, "app": FastAPI()})


def test_credentials_forwarded_as_the_services_expect_them() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    assert metadata_from_headers(_request({"x-api-key": "k1"})) == (("x-api-key", "k1"),)
    # An API key in Authorization goes out as x-api-key; a JWT stays a bearer token.
    assert metadata_from_headers(_request({"authorization": "Bearer k1"})) == (("x-api-key", "k1"),)
    assert metadata_from_headers(_request({"authorization": f"Bearer {jwt}"})) == (
        ("authorization", f"Bearer {jwt}"),
    )
    # Two credentials are both forwarded: the service refuses the ambiguity, not the gateway.
    assert len(metadata_from_headers(_request({"x-api-key": "a", "authorization": "Bearer b"})))
    assert metadata_from_headers(_request({"accept": "*/*"})) == ()
    with pytest.raises(Unauthenticated):
        metadata_from_headers(_request({"x-api-key": "k\u00e9y"}))


def test_body_parsed_into_the_request_message_with_url_fields() -> None:
    request = parse(
        {"expected_revision": "3", "notes": "n"},
        ont.PublishOntologyVersionRequest,
        path={"ontology_id": "pets"},
    )
    assert (request.ontology_id, request.expected_revision, request.notes) == ("pets", 3, "n")
    # lowerCamel names are accepted too (the proto3 JSON mapping).
    assert parse({"expectedRevision": 4}, ont.PublishOntologyVersionRequest).expected_revision == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"definition": {"classes": [{"colour": "x"}]}}, "definition.classes[0].colour"),
        ({"nope": 1}, "nope"),
        ({"ontology_id": 5}, "ontology_id"),
        ({"definition": {"classes": [{"geometry": "ROUND"}]}}, "definition.classes[0].geometry"),
        ({"ontology_id": "\ud800"}, "ontology_id"),
        ({"ontology_id": "pets", "request_id": "a\x00b"}, "request_id"),
        ({"definition": {"classes": [{"id": "a\x00"}]}}, "definition.classes[0].id"),
    ],
)
def test_a_body_that_is_not_the_message_names_the_bad_field(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(body, ont.CreateOntologyRequest)
    assert [v.field for v in info.value.violations] == [field]


def test_a_url_field_contradicted_by_the_body_is_refused() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse({"project_id": "b"}, rt.GetProjectRequest, path={"project_id": "a"})
    assert info.value.violations[0].field == "project_id"


def test_replies_print_defaults_and_64_bit_integers_as_strings() -> None:
    reply = to_json(rt.GetProjectResponse(project=rt.Project(project_id="p", tasks_total=7)))
    assert reply["project"]["tasks_total"] == "7"
    assert reply["project"]["tasks_labeled"] == "0"
    assert reply["project"]["display_name"] == ""


def test_body_schemas_follow_the_messages_and_their_recursion() -> None:
    schemas = SchemaRegistry()
    body = schemas.message(ont.PublishOntologyVersionRequest.DESCRIPTOR, exclude=("ontology_id",))
    assert set(body["properties"]) == {"expected_revision", "version", "notes", "request_id"}
    assert body["additionalProperties"] is False
    schemas.ref(ont.CreateOntologyRequest.DESCRIPTOR)
    classification = schemas.components["labelops.ontology.v1.Classification"]
    option = schemas.components["labelops.ontology.v1.Option"]
    # Classifications hold options that hold classifications: references, not infinite inlining.
    assert option["properties"]["classifications"]["items"] == {
        "$ref": "#/components/schemas/labelops.ontology.v1.Classification"
    }
    assert classification["properties"]["options"]["items"]["$ref"].endswith(".Option")
    project = schemas.message(rt.Project.DESCRIPTOR)
    assert project["properties"]["create_time"] == {"type": "string", "format": "date-time"}


def test_event_records_decode_to_json_and_frame_as_sse() -> None:
    payload = oev.OntologyVersionPublished(ontology_id="pets", version="1.0.0")
    env = envelope_pb2.EventEnvelope(
        event_id="01J0",
        type="labelops.ontology.v1.OntologyVersionPublished",
        stream_id="ontologies/pets",
        tenant_id="acme",
        payload=payload.SerializeToString(),
        traceparent="00-abc-def-01",
    )
    event = decode_record("t", 1, 42, env.SerializeToString())
    assert event is not None
    assert event.data["payload"] == {
        **event.data["payload"],
        "ontology_id": "pets",
        "version": "1.0.0",
    }
    assert event.data["kafka"] == {"topic": "t", "partition": 1, "offset": 42}
    assert "traceparent" not in event.data
    frame = format_event(event).decode()
    lines = frame.split("\n")
    assert lines[0] == "event: labelops.ontology.v1.OntologyVersionPublished"
    assert lines[1] == "id: 01J0"
    assert json.loads(lines[2].removeprefix("data: "))["stream_id"] == "ontologies/pets"
    assert frame.endswith("\n\n") and frame.count("\n") == 4

    unknown = envelope_pb2.EventEnvelope(event_id="e", type="labelops.x.v9.Future", payload=b"1")
    decoded = decode_record("t", 0, 0, unknown.SerializeToString())
    assert decoded is not None and decoded.data["payload"] is None
    assert decode_record("t", 0, 0, b"\xff\xff not an envelope") is None


def test_version_store_root_from_the_manifest_uri() -> None:
    digest = "ab" * 32
    assert store_root(f"s3://bucket/prefix/versions/{digest}/manifest.json") == "s3://bucket/prefix"
    assert store_root(f"file:///var/d/versions/{digest}/manifest.json") == "file:///var/d"
    assert store_root("anything", "s3://other/root/") == "s3://other/root"
    assert issubclass(StoreIntegrityError, Exception)

"""RequestValidator and RateLimiter without a network."""

from __future__ import annotations

import random

import pytest
from google.protobuf import struct_pb2
from labelops.curation.v1 import curation_pb2
from labelops.events.v1 import envelope_pb2
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import workforce_pb2
from labelops_core.context import Principal
from labelops_core.errors import FieldViolation, InvalidArgument, ResourceExhausted
from labelops_grpckit import RateLimited, RateLimiter, RequestLimits, RequestValidator
from labelops_grpckit.errors import retry_delay, status_for

ANNA = Principal("anna", "acme", "user", frozenset())
ANNA_ELSEWHERE = Principal("anna", "globex", "user", frozenset())


def submit_request(labels: int = 1000, per_item: int = 10) -> workforce_pb2.SubmitLabelsRequest:
    """A realistic batch: boxes and polygons, radio / text / checklist answers, attributes,
    relations."""
    request = workforce_pb2.SubmitLabelsRequest(request_id="req-1")
    for s in range(labels // per_item):
        sub = request.submissions.add(
            assignment_id=f"asg-{s}",
            time_spent_ms=1234,
            prelabel_outcome=workforce_pb2.PRELABEL_OUTCOME_EDITED,
            note="looks fine",
        )
        sub.labels.item_id = f"item-{s}"
        sub.labels.item.width, sub.labels.item.height = 1920, 1080
        for i in range(per_item):
            label = sub.labels.labels.add(label_id=f"l{i}", class_id="car", confidence=0.9)
            if i % 2:
                label.box.CopyFrom(label_pb2.BoundingBox(x=1, y=2, width=30, height=40))
            else:
                label.polygon.points.extend(label_pb2.Point2D(x=j, y=j) for j in range(8))
            label.answers.add(classification_id="color", option_id="red")
            label.answers.add(classification_id="notes", text="occluded by a tree\n\tsecond line")
            label.answers.add(
                classification_id="parts",
                checklist=label_pb2.ChecklistAnswer(option_ids=["wheel", "door"]),
            )
            label.attributes["occluded"].bool_value = True
            label.attributes["make"].string_value = "toyota"
            label.attributes["count"].int_value = 3
        for i in range(per_item - 1):
            sub.labels.relations.add(
                relationship_id="near", from_label_id=f"l{i}", to_label_id=f"l{i + 1}"
            )
    return request


# --- validator ------------------------------------------------------------------------------


def test_realistic_batch_passes():
    assert RequestValidator().violations(submit_request()) == []


def test_paths_name_each_bad_field():
    request = submit_request(40)
    labels = request.submissions[3].labels.labels
    labels[0].answers[1].text = "a\x00b"
    labels[1].attributes["ok"].string_value = "bell\x07"
    labels[2].answers[2].checklist.option_ids.append("tab\tok-but-\x1f")
    request.submissions[1].prelabel_outcome = 42  # type: ignore[assignment]
    assert RequestValidator().violations(request) == [
        FieldViolation("submissions[1].prelabel_outcome", "42 is not a defined enum value"),
        FieldViolation(
            "submissions[3].labels.labels[0].answers[1].text",
            "must not contain NUL or control characters",
        ),
        FieldViolation(
            'submissions[3].labels.labels[1].attributes["ok"].string_value',
            "must not contain NUL or control characters",
        ),
        FieldViolation(
            "submissions[3].labels.labels[2].answers[2].checklist.option_ids[2]",
            "must not contain NUL or control characters",
        ),
    ]


def test_violations_are_capped():
    request = workforce_pb2.SubmitLabelsRequest(
        submissions=[workforce_pb2.LabelSubmission(assignment_id="\x00") for _ in range(50)]
    )
    found = RequestValidator().violations(request)
    assert len(found) == 20
    with pytest.raises(InvalidArgument) as excinfo:
        RequestValidator(RequestLimits(max_violations=3)).validate(request)
    assert excinfo.value.reason == "REQUEST_LIMITS" and len(excinfo.value.violations) == 3


def test_struct_strings_keys_and_depth():
    validator = RequestValidator()
    value = struct_pb2.Struct()
    value.fields["ok"].list_value.values.add().string_value = "fine"
    value.fields["k\x00"].string_value = "v"
    value.fields["deep"].list_value.values.add().string_value = "\x01"
    assert sorted(v.field for v in validator.violations(value)) == [
        'fields["deep"].list_value.values[0].string_value',
        'fields["k\\u0000"]',
    ]
    nested = struct_pb2.Struct()
    cursor = nested
    for _ in range(31):
        cursor = cursor.fields["a"].struct_value
    assert validator.violations(nested) == []  # 32 levels
    cursor.fields["a"].struct_value.SetInParent()
    [violation] = validator.violations(nested)
    assert violation.description == "nested deeper than 32 levels"


def test_caps_and_per_field_overrides():
    spec = curation_pb2.ItemSpec(external_id="e" * 8193, text="t" * 60_000)
    spec.metadata["note"] = "m" * 9000
    assert RequestValidator().violations(spec) == [
        FieldViolation("external_id", "string longer than 8192 characters"),
        FieldViolation('metadata["note"]', "string longer than 8192 characters"),
    ]
    limits = RequestLimits(
        max_string_chars=100,
        field_max_chars={"labelops.curation.v1.ItemSpec.external_id": 10_000},
        field_max_entries={"labelops.curation.v1.ItemSpec.embedding": 4},
    )
    spec = curation_pb2.ItemSpec(external_id="e" * 8193, embedding=[0.0] * 5, checksum="c" * 101)
    assert RequestValidator(limits).violations(spec) == [
        FieldViolation("checksum", "string longer than 100 characters"),
        FieldViolation("embedding", "at most 4 entries"),
    ]


def test_bytes_and_uint64():
    envelope = envelope_pb2.EventEnvelope(payload=b"x" * (1024 * 1024 + 1), position=2**63)
    assert RequestValidator().violations(envelope) == [
        FieldViolation("payload", "longer than 1048576 bytes"),
        FieldViolation("position", "value must be at most 9223372036854775807"),
    ]
    fine = envelope_pb2.EventEnvelope(payload=b"\x00" * 10, position=2**63 - 1)
    assert RequestValidator().violations(fine) == [], "bytes may hold anything"


def test_timestamps_outside_protobufs_range_are_refused():
    # Found by the fuzzer: Cut.timestamp with seconds 2^63-1 made ToDatetime raise -> INTERNAL.
    from labelops.datasets.v1 import datasets_pb2

    v = RequestValidator()
    bad = datasets_pb2.CreateDatasetVersionRequest(dataset_id="d")
    bad.cut.timestamp.seconds = 2**63 - 1
    assert [f.field for f in v.violations(bad)] == ["cut.timestamp"]
    with pytest.raises(InvalidArgument):
        v.validate(bad)
    negative_nanos = datasets_pb2.CreateDatasetVersionRequest(dataset_id="d")
    negative_nanos.cut.timestamp.nanos = -1
    assert [f.field for f in v.violations(negative_nanos)] == ["cut.timestamp"]
    good = datasets_pb2.CreateDatasetVersionRequest(dataset_id="d")
    good.cut.timestamp.seconds = 1_700_000_000
    assert v.violations(good) == []
    v.validate(good)


def test_mutated_requests_fast_and_generic_walks_agree():
    # The fast pass only decides "fine or not": a request it passes must have no violation
    # and a request it fails must get at least one from the generic walk.
    rng = random.Random(17)
    validator = RequestValidator(RequestLimits(max_string_chars=40, max_repeated=12))
    base = submit_request(20, per_item=5).SerializeToString()
    checked = 0
    for _ in range(400):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.choice(
                [0, 1, 7, 0x1F, 0x41, 0xFF, rng.randrange(256)]
            )
        try:
            message = workforce_pb2.SubmitLabelsRequest.FromString(bytes(data))
        except Exception:
            continue
        checked += 1
        strings: list[str] = []
        fast_bad = validator._fast(message.DESCRIPTOR)(message, strings, 0) or bool(
            "".join(strings) and any(ord(c) < 32 and c not in "\t\n\r" for c in "".join(strings))
        )
        assert bool(validator.violations(message)) == fast_bad
    assert checked > 50


# --- rate limiter ---------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_the_rate():
    clock = _Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.take(ANNA) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(ANNA) == pytest.approx(0.5)
    assert limiter.take(ANNA_ELSEWHERE) == 0.0, "same subject, other tenant: own bucket"
    clock.now += 0.5
    assert limiter.take(ANNA) == 0.0
    assert limiter.take(ANNA, n=3) == pytest.approx(1.5)
    clock.now += 100
    assert limiter.take(ANNA, n=3) == 0.0, "refills up to the burst, not beyond"
    assert limiter.take(ANNA) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        limiter.take(ANNA, n=4)


def test_check_raises_rate_limited_with_retry_info():
    clock = _Clock()
    limiter = RateLimiter(rate_per_s=4, burst=1, clock=clock)
    limiter.check(ANNA)
    with pytest.raises(RateLimited) as excinfo:
        limiter.check(ANNA)
    error = excinfo.value
    assert isinstance(error, ResourceExhausted)
    assert error.reason == "RATE_LIMITED" and error.retry_delay_s == pytest.approx(0.25)

    class _Err:
        def __init__(self, status: object) -> None:
            self._trailing = status.trailing_metadata  # type: ignore[attr-defined]

        def trailing_metadata(self) -> object:
            return self._trailing

    assert retry_delay(_Err(status_for(error))) == pytest.approx(0.25)  # type: ignore[arg-type]


def test_memory_is_bounded():
    clock = _Clock()
    limiter = RateLimiter(rate_per_s=10, burst=10, max_keys=100, clock=clock)
    for i in range(1000):
        limiter.take(Principal(f"u{i}", "acme", "user", frozenset()))
    assert len(limiter) <= 100
    clock.now += 2  # every bucket is full again: all of them may go
    limiter.take(ANNA)
    assert len(limiter) == 1

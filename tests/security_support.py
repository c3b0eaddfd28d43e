"""The world of the security tests: two tenants, two vendors, several roles, and tenant A's
resources (an ontology with nested questions, attributes and a relation; a curation dataset; a
project with a vendor pool per vendor; tasks, a gold task; a vendor's label; a dataset
version), plus a request builder that fills any method's request with tenant A's ids.

The matrix (test_security_matrix.py) walks every method of every service descriptor, so a new
method is covered the day it is added: its request is built generically from field names.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import descriptor_pool, symbol_database
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as cpb
from labelops.curation.v1 import curation_pb2_grpc
from labelops.datasets.v1 import datasets_pb2 as dpb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.eventlog.v1 import eventlog_pb2
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops.prelabel.v1 import prelabel_pb2
from labelops.qa.v1 import qa_pb2
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_testkit.waiting import eventually

#: Every string of tenant A's content carries this marker; no answer to anyone else may.
MARK = "secreta"
GOLD_MARK = "secretagold"

TENANT_A, TENANT_B = "tenant-a", "tenant-b"


def _key(name: str) -> str:
    return f"sec-{name}-{secrets.token_hex(10)}"


@dataclass(frozen=True)
class Caller:
    name: str
    key: str
    fields: Mapping[str, Any]


def callers() -> dict[str, Caller]:
    """A's admin, B's admin, vendor X and vendor Y (both working for tenant A), B's vendor."""
    spec: dict[str, dict[str, Any]] = {
        "a_admin": {"subject": "a-lead", "tenant_id": TENANT_A, "roles": ["admin"]},
        "b_admin": {"subject": "b-lead", "tenant_id": TENANT_B, "roles": ["admin"]},
        "vendor_x": {
            "subject": "vx-bot",
            "tenant_id": TENANT_A,
            "kind": "vendor",
            "vendor_id": "vx",
        },
        "vendor_y": {
            "subject": "vy-bot",
            "tenant_id": TENANT_A,
            "kind": "vendor",
            "vendor_id": "vy",
        },
    }
    return {name: Caller(name, _key(name), f) for name, f in spec.items()}


def definition() -> D.OntologyDefinition:
    """A box class with a nested radio question, an enum attribute, and a relation."""
    sub = D.Classification(
        id=f"{MARK}-where",
        name="where",
        kind=D.CLASSIFICATION_KIND_RADIO,
        options=[
            D.Option(id=f"{MARK}-front", name="front"),
            D.Option(id=f"{MARK}-back", name="back"),
        ],
    )
    occluded = D.Classification(
        id=f"{MARK}-occluded",
        name="occluded",
        kind=D.CLASSIFICATION_KIND_RADIO,
        options=[
            D.Option(id=f"{MARK}-yes", name="yes", classifications=[sub]),
            D.Option(id=f"{MARK}-no", name="no"),
        ],
    )
    color = D.Attribute(
        id=f"{MARK}-color",
        name="color",
        type=D.ATTRIBUTE_TYPE_ENUM,
        enum_values=[f"{MARK}-red", f"{MARK}-blue"],
    )
    car = D.OntologyClass(
        id=f"{MARK}-car",
        name="car",
        geometry=D.GEOMETRY_KIND_BOUNDING_BOX,
        classifications=[occluded],
        attributes=[color],
    )
    wheel = D.OntologyClass(id=f"{MARK}-wheel", name="wheel", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    rel = D.Relationship(
        id=f"{MARK}-part-of",
        name="part of",
        from_class_id=f"{MARK}-wheel",
        to_class_id=f"{MARK}-car",
        cardinality=D.CARDINALITY_MANY_TO_ONE,
    )
    return D.OntologyDefinition(classes=[car, wheel], relationships=[rel])


def rich_label(item_id: str, marker: str = MARK) -> L.ItemLabels:
    """A car with a nested answer and an attribute, a wheel, and the wheel's relation."""
    car = L.Label(
        label_id=f"{marker}-l-car",
        class_id=f"{MARK}-car",
        box=L.BoundingBox(x=10, y=20, width=100, height=50),
        answers=[
            L.Answer(classification_id=f"{MARK}-occluded", option_id=f"{MARK}-yes"),
            L.Answer(classification_id=f"{MARK}-where", option_id=f"{MARK}-front"),
        ],
    )
    car.attributes[f"{MARK}-color"].string_value = f"{MARK}-red"
    wheel = L.Label(
        label_id=f"{marker}-l-wheel",
        class_id=f"{MARK}-wheel",
        box=L.BoundingBox(x=15, y=50, width=20, height=20),
    )
    return L.ItemLabels(
        item_id=item_id,
        item=L.ItemContext(width=640, height=480),
        labels=[car, wheel],
        relations=[
            L.Relation(
                relationship_id=f"{MARK}-part-of",
                from_label_id=wheel.label_id,
                to_label_id=car.label_id,
            )
        ],
    )


@dataclass
class World:
    """Tenant A's resource ids, by request field name (what the request builder fills)."""

    ids: dict[str, str] = field(default_factory=dict)
    #: Tenant A's resource ids the test expects to find somewhere (for the positive control).
    task_ids: list[str] = field(default_factory=list)
    gold_task_id: str = ""
    assignment_x: str = ""


async def seed_tenant_a(targets: Mapping[str, str], key: str, vendor_x_key: str) -> World:
    """Build tenant A's resources through the public APIs, as A's admin and vendor X."""
    from labelops_grpckit import channel

    w = World()
    ont, ds, proj = f"{MARK}-ont", f"{MARK}-items", f"{MARK}-proj"
    async with (
        channel(targets["ontology"], api_key=key) as och,
        channel(targets["curation"], api_key=key) as cch,
        channel(targets["routing"], api_key=key) as rch,
        channel(targets["routing"], api_key=vendor_x_key) as vch,
        channel(targets["datasets"], api_key=key) as dch,
    ):
        onto = ontology_pb2_grpc.OntologyServiceStub(och)
        made = await onto.CreateOntology(
            opb.CreateOntologyRequest(
                ontology_id=ont, display_name=f"{MARK} ontology", definition=definition()
            )
        )
        await onto.PublishOntologyVersion(
            opb.PublishOntologyVersionRequest(
                ontology_id=ont,
                version="1.0.0",
                expected_revision=made.ontology.draft_revision,
            )
        )
        cur = curation_pb2_grpc.CurationServiceStub(cch)
        await cur.CreateDataset(
            cpb.CreateDatasetRequest(dataset_id=ds, display_name=f"{MARK} items")
        )

        async def items() -> Any:
            yield cpb.RegisterItemsRequest(
                dataset_id=ds,
                import_id=f"{MARK}-import",
                items=[
                    cpb.ItemSpec(
                        external_id=f"{MARK}-ext-{i}",
                        uri=f"data:text/plain,{MARK}%20text%20{i}",
                        modality=cpb.MODALITY_TEXT,
                    )
                    for i in range(3)
                ],
            )

        reg = await cur.RegisterItems(items())
        w.ids.update(
            ontology_id=ont,
            version="1.0.0",
            from_version="1.0.0",
            to_version="1.0.0",
            dataset_id=ds,
            import_id=getattr(reg, "import").import_id or f"{MARK}-import",
            project_id=proj,
            pool_id=f"{MARK}-pool-x",
            annotator_id="vx/worker-1",
            vector_space="default",
        )

        async def registered() -> list[str] | None:
            listed = await cur.ListItems(cpb.ListItemsRequest(dataset_id=ds))
            return [i.item_id for i in listed.items] if len(listed.items) == 3 else None

        item_ids = await eventually(registered, timeout=30)
        w.ids["item_id"] = item_ids[0]
        routing = routing_pb2_grpc.RoutingServiceStub(rch)
        for vendor in ("x", "y"):
            await routing.CreatePool(
                rpb.CreatePoolRequest(
                    pool=rpb.Pool(
                        pool_id=f"{MARK}-pool-{vendor}",
                        kind=rpb.POOL_KIND_VENDOR,
                        vendor_id=f"v{vendor}",
                        active=True,
                    )
                )
            )
            await routing.RegisterAnnotator(
                rpb.RegisterAnnotatorRequest(
                    annotator=rpb.Annotator(
                        annotator_id=f"v{vendor}/worker-1",
                        pool_id=f"{MARK}-pool-{vendor}",
                        active=True,
                    )
                )
            )

        async def ontology_known() -> bool:
            try:
                await routing.CreateProject(
                    rpb.CreateProjectRequest(
                        project_id=proj,
                        ontology_id=ont,
                        ontology_version="1.0.0",
                        config=rpb.WorkflowConfig(
                            overlap=rpb.OverlapPolicy(
                                default_sample_rate=0.0, default_annotators=2
                            ),
                            review_policy=rpb.REVIEW_POLICY_TARGETED,
                        ),
                        rules=rpb.RoutingRules(default_pools=[f"{MARK}-pool-x"]),
                    )
                )
                return True
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                    return True
                if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                    return False
                raise AssertionError(f"CreateProject: {violations(exc)}") from exc

        await eventually(ontology_known, timeout=60)
        created = await routing.CreateTasks(
            rpb.CreateTasksRequest(
                project_id=proj,
                # Curation's items: a dataset version needs every labeled item's registration.
                items=[
                    rpb.TaskItem(item_id=item_ids[i], uri=f"s3://{MARK}/{i}.jpg", modality="image")
                    for i in range(2)
                ],
            )
        )
        w.task_ids = list(created.task_ids)
        w.ids["task_id"] = w.task_ids[0]
        gold = await routing.AddGoldTasks(
            rpb.AddGoldTasksRequest(
                project_id=proj,
                items=[
                    rpb.GoldItem(
                        item=rpb.TaskItem(
                            item_id=item_ids[2], uri=f"s3://{MARK}/g.jpg", modality="image"
                        ),
                        expected=rich_label(item_ids[2], GOLD_MARK),
                    )
                ],
            )
        )
        w.gold_task_id = gold.task_ids[0]
        work = workforce_pb2_grpc.WorkforceServiceStub(vch)

        async def claimed() -> wpb.ClaimTasksResponse | None:
            r = await work.ClaimTasks(
                wpb.ClaimTasksRequest(
                    pool_id=f"{MARK}-pool-x", annotator_id="vx/worker-1", max_tasks=1
                )
            )
            return r if r.offers else None

        offers = (await eventually(claimed, timeout=60)).offers
        w.assignment_x = offers[0].assignment_id
        w.ids["assignment_id"] = w.assignment_x
        await work.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id=f"{MARK}-submit-1",
                submissions=[
                    wpb.LabelSubmission(
                        assignment_id=offers[0].assignment_id,
                        labels=rich_label(offers[0].item_id),
                    )
                ],
            )
        )
        # A second claim leaves an assignment open for the lease / skip methods.
        more = await work.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id=f"{MARK}-pool-x", annotator_id="vx/worker-1", max_tasks=1)
        )
        if more.offers:
            w.assignment_x = more.offers[0].assignment_id
            w.ids["assignment_id"] = w.assignment_x
        dsv = datasets_pb2_grpc.DatasetServiceStub(dch)
        w.ids["stream_id"] = f"ontologies/{ont}"

        async def version() -> bool:
            try:
                await dsv.CreateDatasetVersion(
                    dpb.CreateDatasetVersionRequest(
                        dataset_id=f"{MARK}-dsv", project_id=proj, cut=dpb.Cut(latest=True)
                    )
                )
                return True
            except grpc.aio.AioRpcError as exc:
                return exc.code() == grpc.StatusCode.ALREADY_EXISTS

        # A's label, accepted by QA and projected, makes a real version (or the seed fails).
        await eventually(version, timeout=60)
        w.ids["dataset_id.datasets"] = f"{MARK}-dsv"
    return w


def violations(exc: grpc.aio.AioRpcError) -> list[str]:
    """The BadRequest field violations of a refusal, for assertion messages."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    out = [exc.details() or ""]
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out += [f"{v.field}: {v.description}" for v in bad.field_violations]
    return out


# --- requests of any method, built from tenant A's ids --------------------------------------

_SYM = symbol_database.Default()

#: The request field names that hold a resource id, and which world entry fills them.
ID_FIELDS = (
    "ontology_id",
    "dataset_id",
    "import_id",
    "item_id",
    "project_id",
    "pool_id",
    "annotator_id",
    "task_id",
    "assignment_id",
    "model_id",
    "run_id",
    "stream_id",
    "version",
    "from_version",
    "to_version",
    "class_id",
    "vector_space",
)


def message_class(desc: Descriptor) -> type[Message]:
    return _SYM.GetPrototype(desc) if hasattr(_SYM, "GetPrototype") else _message_class(desc)


def _message_class(desc: Descriptor) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(desc)


def _repeated(f: FieldDescriptor) -> bool:
    flag = getattr(f, "is_repeated", None)
    return bool(flag) if flag is not None else f.label == FieldDescriptor.LABEL_REPEATED


def fill(msg: Message, ids: Mapping[str, str], service: str, depth: int = 0) -> None:
    """Set every id-named string field (and id lists, and nested messages up to depth 2) of
    ``msg`` from ``ids``; ``<field>.<service>`` entries win for that service."""
    for f in msg.DESCRIPTOR.fields:
        name = f.name
        value = ids.get(f"{name}.{service}", ids.get(name))
        if f.type == FieldDescriptor.TYPE_STRING:
            if value is None and name.endswith("_ids"):
                value = ids.get(name[:-1])
                if value is not None:
                    getattr(msg, name).append(value)
                continue
            if value is not None:
                if _repeated(f):
                    getattr(msg, name).append(value)
                else:
                    setattr(msg, name, value)
        elif f.type == FieldDescriptor.TYPE_MESSAGE and depth < 2:
            if f.message_type.full_name.startswith("google.protobuf"):
                continue
            if f.message_type.GetOptions().map_entry:
                continue
            if f.containing_oneof is not None and f.containing_oneof.fields[0] is not f:
                continue  # one member of a oneof is enough
            if _repeated(f):
                fill(getattr(msg, name).add(), ids, service, depth + 1)
            else:
                fill(getattr(msg, name), ids, service, depth + 1)


#: The ids of vendor X's own work (the rest of tenant A's world vendor Y may see).
VENDOR_IDS = ("pool_id", "annotator_id", "task_id", "assignment_id")


def random_ids(ids: Mapping[str, str], only: tuple[str, ...] | None = None) -> dict[str, str]:
    """The same fields, ids nobody has (``only``: just these fields): a caller's answer to
    these must equal its answer to A's."""
    out = {}
    for k, v in ids.items():
        base = k.split(".")[0]
        if base in ("version", "from_version", "to_version", "vector_space") or (
            only is not None and base not in only
        ):
            out[k] = v  # not ids, or ids the caller may know
        else:
            out[k] = _nobody(v)
    return out


def _nobody(value: str) -> str:
    """An id of the same shape as ``value`` that nobody has (a UUID for a UUID)."""
    import uuid

    try:
        uuid.UUID(value)
        return str(uuid.uuid4())
    except ValueError:
        pass
    head, sep, _ = value.rpartition("/")
    return f"{head}{sep}nobody-{secrets.token_hex(6)}" if sep else f"nobody-{secrets.token_hex(6)}"


def services() -> list[tuple[str, Any]]:
    """(labelops service, ServiceDescriptor) of every public gRPC API."""
    from labelops.routing.v1 import workforce_pb2

    pairs = [
        ("ontology", opb.DESCRIPTOR.services_by_name["OntologyService"]),
        ("curation", cpb.DESCRIPTOR.services_by_name["CurationService"]),
        ("routing", rpb.DESCRIPTOR.services_by_name["RoutingService"]),
        ("routing", workforce_pb2.DESCRIPTOR.services_by_name["WorkforceService"]),
        ("prelabel", prelabel_pb2.DESCRIPTOR.services_by_name["PrelabelService"]),
        ("qa", qa_pb2.DESCRIPTOR.services_by_name["QualityService"]),
        ("datasets", dpb.DESCRIPTOR.services_by_name["DatasetService"]),
    ]
    eventlog = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"]
    pairs += [(svc, eventlog) for svc in ("ontology", "routing", "qa")]
    return pairs


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    body: bytes
    details: str = ""


async def call(
    target_channel: grpc.aio.Channel, method: MethodDescriptor, request: Message
) -> Outcome:
    """Call any method with raw bytes; a stream is read to its end (or its first 20 answers)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    raw = request.SerializeToString()
    ident = lambda b: b  # noqa: E731
    try:
        if method.client_streaming and method.server_streaming:
            stub = target_channel.stream_stream(
                path, request_serializer=ident, response_deserializer=ident
            )

            async def one() -> Any:
                yield raw

            body = b""
            async for chunk in stub(one(), timeout=5):
                body += chunk
                break
            return Outcome(grpc.StatusCode.OK, body)
        if method.client_streaming:
            stub = target_channel.stream_unary(
                path, request_serializer=ident, response_deserializer=ident
            )

            async def one_req() -> Any:
                yield raw

            return Outcome(grpc.StatusCode.OK, await stub(one_req(), timeout=15))
        if method.server_streaming:
            stub = target_channel.unary_stream(
                path, request_serializer=ident, response_deserializer=ident
            )
            body = b""
            n = 0
            async for chunk in stub(raw, timeout=15):
                body += chunk
                n += 1
                if n >= 20:
                    break
            return Outcome(grpc.StatusCode.OK, body)
        stub = target_channel.unary_unary(
            path, request_serializer=ident, response_deserializer=ident
        )
        return Outcome(grpc.StatusCode.OK, await stub(raw, timeout=15))
    except grpc.aio.AioRpcError as exc:
        return Outcome(exc.code(), b"", exc.details() or "")


def request_for(method: MethodDescriptor, ids: Mapping[str, str], service: str) -> Message:
    cls = _message_class(method.input_type)
    msg = cls()
    if method.name == "Work":
        # The bidi stream's first message: a claim in the given pool.
        claim = msg.claim  # type: ignore[attr-defined]
        fill(claim, ids, service)
        return msg
    fill(msg, ids, service)
    return msg


repeated = _repeated

__all__ = [
    "GOLD_MARK",
    "MARK",
    "VENDOR_IDS",
    "Caller",
    "Outcome",
    "World",
    "call",
    "callers",
    "descriptor_pool",
    "random_ids",
    "repeated",
    "request_for",
    "rich_label",
    "seed_tenant_a",
    "services",
]

"""What the event log hides from a reader without ``gold.read``: gold answers and gold flags.

A vendor or annotator may never learn which tasks are gold or what their expected answer is
(they would answer those carefully and everything else carelessly). The event-log API serves
the events themselves, so the fields that tell are cleared before an event leaves the service,
and events that are about gold as a whole are withheld. ``GOLD_REDACTIONS`` is the one list:
full event type -> fields to clear (dotted paths reach into nested messages, through repeated
fields too). A unit test walks every ``labelops.*.v1.events`` message and fails when a field
whose name says gold is reachable and not listed here, so a new gold field cannot be forgotten.

Side channels also cleared: ``LabelSubmitted.required_labels`` is 0 exactly for gold tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import message_factory, symbol_database
from google.protobuf.message import DecodeError, Message
from labelops.events.v1 import envelope_pb2

# The event modules must be imported so their types are in the default descriptor pool.
from labelops.qa.v1 import events_pb2 as _qa_events  # noqa: F401
from labelops.routing.v1 import events_pb2 as _routing_events  # noqa: F401


@dataclass(frozen=True)
class Redaction:
    """``fields``: paths to clear; ``withhold``: the event is not returned at all."""

    fields: tuple[str, ...] = ()
    withhold: bool = False


#: Full event type -> what a reader without ``gold.read`` must not see.
GOLD_REDACTIONS: dict[str, Redaction] = {
    "labelops.routing.v1.TaskCreated": Redaction(("gold", "gold_expected")),
    "labelops.routing.v1.LabelSubmitted": Redaction(("gold", "required_labels")),
    # The whole event is a gold result (expected class, correct): only gold readers see it.
    "labelops.qa.v1.GoldScored": Redaction(withhold=True),
}


#: Fields whose name says gold but that tell no gold answer or flag (kept for every reader):
#: the share of offers that are gold is project configuration, not which tasks are gold.
GOLD_FIELDS_KEPT: frozenset[str] = frozenset({"labelops.routing.v1.WorkflowConfig.gold_rate"})


def _message_class(type_name: str) -> type[Message] | None:
    try:
        descriptor = symbol_database.Default().pool.FindMessageTypeByName(type_name)
    except KeyError:
        return None
    cls: type[Message] = message_factory.GetMessageClass(descriptor)
    return cls


def _clear(msg: Message, path: list[str]) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        msg.ClearField(head)
        return
    field = msg.DESCRIPTOR.fields_by_name[head]
    if field.label == field.LABEL_REPEATED:
        for child in getattr(msg, head):
            _clear(child, rest)
    elif msg.HasField(head):
        _clear(getattr(msg, head), rest)


def redact_payload(type_name: str, payload: bytes, redaction: Redaction) -> bytes:
    """``payload`` of an event of ``type_name`` with ``redaction.fields`` cleared.

    A payload that does not parse is returned empty: better nothing than a gold answer.
    """
    cls = _message_class(type_name)
    if cls is None:
        return b""
    msg = cls()
    try:
        msg.ParseFromString(payload)
    except DecodeError:
        return b""
    for path in redaction.fields:
        _clear(msg, path.split("."))
    return msg.SerializeToString()


def redact_envelope(
    env: envelope_pb2.EventEnvelope,
    redactions: dict[str, Redaction] | None = None,
) -> envelope_pb2.EventEnvelope | None:
    """``env`` as a reader without ``gold.read`` may see it, or None when it is withheld."""
    redaction = (GOLD_REDACTIONS if redactions is None else redactions).get(env.type)
    if redaction is None:
        return env
    if redaction.withhold:
        return None
    env.payload = redact_payload(env.type, env.payload, redaction)
    return env

"""One idempotent-command helper (AIP-155) for every handler.

The pattern every command follows — fingerprint the request, answer a retry with the stored
answer, otherwise decide and append the events together with the answer — is written once::

    cmd = await store.command("CreateProject", req, pb.CreateProjectResponse)
    if cmd.earlier is not None:
        return cmd.earlier
    ...  # decide
    await store.append_streams(appends, conn=conn, **cmd.recording(resp))
    return resp

``recording`` passes ``request_id`` / ``fingerprint`` / ``response`` to ``append`` or
``append_streams``, which store them in the same transaction as the events. A retry that races
the first attempt waits on the request row and replays its answer (see ``EventStore.append``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def request_fingerprint(*parts: bytes | str) -> str:
    """A stable hash of a request's content, to tell a retry from a reused request id."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


def fingerprint_of(method: str, request: Message) -> str:
    """The fingerprint of a protobuf request to ``method`` (deterministic serialization)."""
    return request_fingerprint(method, request.SerializeToString(deterministic=True))


@dataclass(frozen=True)
class Command(Generic[M]):
    """A command being handled under a request id.

    Attributes:
        request_id: the caller's id ("" = not idempotent: every call acts).
        fingerprint: digest of the request content.
        earlier: the stored answer when this request id was handled before, else None.
    """

    request_id: str
    fingerprint: str
    earlier: M | None = None

    def recording(self, response: Message) -> dict[str, Any]:
        """Keyword arguments of ``append`` / ``append_streams`` that store ``response`` as the
        answer of this request id, in the transaction of the events."""
        return {
            "request_id": self.request_id or None,
            "fingerprint": self.fingerprint,
            "response": response.SerializeToString(),
        }

"""Channel / server options shared by ``GrpcServer`` and ``channel``."""

from __future__ import annotations

from typing import Any

#: Default limit for one message in either direction. gRPC's own default receive limit is
#: 4 MiB; labelled batches (geometry, embeddings) need more, and a single limit on both ends
#: keeps "the server accepted it" equal to "the client can read it back".
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def message_size_options(
    max_receive_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_send_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> list[tuple[str, Any]]:
    """gRPC channel arguments for the given message size limits."""
    return [
        ("grpc.max_receive_message_length", max_receive_message_bytes),
        ("grpc.max_send_message_length", max_send_message_bytes),
    ]

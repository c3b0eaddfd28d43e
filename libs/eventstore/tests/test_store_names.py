"""store.py was split (events, request_log): every name it had still imports from it."""

from __future__ import annotations

import labelops_eventstore.store as store
from labelops_eventstore import events, request_log


def test_every_name_of_the_store_module_still_imports_from_it() -> None:
    from labelops_eventstore.store import (  # noqa: F401
        _COLUMNS,
        ANY_VERSION,
        NO_STREAM,
        AppendResult,
        EventStore,
        MultiAppendResult,
        NewEvent,
        StoredEvent,
        StreamAppend,
        _row_to_event,
        envelope_bytes,
        request_fingerprint,
    )

    for name in ("ACTOR_KINDS", "ACTOR_KIND_NAMES", "_EPOCH", "M", "Command", "fingerprint_of"):
        assert hasattr(store, name), name
    for name in ("_check_appends", "_stream_conflict", "check_identifier"):
        assert hasattr(store, name), name
    assert store.NewEvent is events.NewEvent
    assert (NO_STREAM, ANY_VERSION) == (0, None)


def test_the_store_keeps_its_request_methods() -> None:
    assert issubclass(store.EventStore, request_log.RequestLog)
    for name in ("command", "earlier_response", "lookup_request", "_claim_request"):
        assert callable(getattr(store.EventStore, name)), name

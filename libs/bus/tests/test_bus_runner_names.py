"""runner.py was split (messages, clients, _runner_lag, _runner_record): its names still import."""

from __future__ import annotations

import labelops_bus.runner as runner
from labelops_bus import clients, messages


def test_every_name_of_the_runner_module_still_imports_from_it() -> None:
    for name in (
        *("APPLIED", "DUPLICATE", "DEAD_LETTERED", "DLQ_HEADER_PREFIX", "_MAX_ERROR_BYTES"),
        *("PoisonMessage", "MessageContext", "Handler", "Decoder", "Predicate", "OffsetHook"),
        *("EventEnvelope", "decode_envelope", "start_clients", "dlq_headers", "is_transient_error"),
        *("ConsumerRunner", "_Stopped", "_HandlerFailed", "_Listener", "_Batch", "log"),
        *("_with_attempt", "_evaluate", "_where", "_error_text"),
        *("STATUS_APPLIED", "STATUS_DEAD_LETTERED"),
    ):
        assert hasattr(runner, name), name
    assert runner.MessageContext is messages.MessageContext
    assert runner.PoisonMessage is messages.PoisonMessage
    assert runner.dlq_headers is clients.dlq_headers


def test_the_runner_is_one_class_with_the_methods_it_had() -> None:
    for name in ("lag", "refresh_lag", "_process_record", "_apply", "_dead_letter", "_commit"):
        assert callable(getattr(runner.ConsumerRunner, name)), name

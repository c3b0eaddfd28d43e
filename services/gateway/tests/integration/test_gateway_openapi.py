"""schemathesis against the gateway's own OpenAPI document: generated requests — valid ones and
ones that break the schema — against the real services never get a 5xx.

Every operation is exercised except the event stream (a response that never ends). Examples
per operation and generation mode: ``LABELOPS_GATEWAY_FUZZ_EXAMPLES`` (default 20, bounded so
the test stays well under a minute; raise it to explore further). Generation is derandomized,
so a CI run is repeatable; a larger budget explores other inputs.
"""

from __future__ import annotations

import asyncio
import os

import pytest
import schemathesis
from fastapi import FastAPI
from gateway_support import ADMIN, KEYS, gateway_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from labelops_demo.system import System
from labelops_gateway.bootstrap import create_app
from labelops_grpckit import Authenticator
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

EXAMPLES = int(os.environ.get("LABELOPS_GATEWAY_FUZZ_EXAMPLES", "20"))
EXCLUDED = ["/v1/events/stream"]

# schemathesis' own strategies use `random` (hypothesis deprecates that); not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


def explore(app: FastAPI, examples: int) -> tuple[int, list[str]]:
    """Run every operation; returns (cases run, failures)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path=EXCLUDED)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                # Shrinking re-runs a failing operation many times; the failure's example is
                # reported as found.
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                nonlocal calls
                calls += 1
                # schemathesis fills the documented security headers with generated values;
                # two credentials are refused (401) before anything else is looked at, so
                # only the admin key goes out.
                case.headers = {
                    k: v
                    for k, v in (case.headers or {}).items()
                    if k.lower() not in ("authorization", "x-api-key")
                }
                response = case.call(headers=ADMIN)
                case.validate_response(response, checks=[not_a_server_error])

            try:
                run()
            except Unsatisfiable:
                pass  # nothing in the schema to break (negative mode)
            except Exception as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return calls, failures


async def test_generated_requests_never_get_a_server_error(
    system: System, kafka_bootstrap: str
) -> None:
    # A gateway of its own: schemathesis runs the app (and its lifespan) in its own event loop
    # thread, while the services keep serving in this one.
    app = create_app(gateway_settings(system, kafka_bootstrap), authenticator=Authenticator(KEYS))
    try:
        calls, failures = await asyncio.to_thread(explore, app, EXAMPLES)
    finally:
        await asyncio.to_thread(asgi.shutdown_lifespans)
    assert not failures, "\n\n".join(failures)
    assert calls > 100

"""The fuzzer's quick run (tools/fuzz_grpc.py; ``make fuzz`` sends 100,000 per service): every
public method of the six services gets generated and byte-mutated requests; none may answer
INTERNAL / UNKNOWN / DATA_LOSS, and every service is still SERVING afterwards."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import fuzz_grpc  # noqa: E402


async def test_bad_input_never_breaks_a_service(pg_dsn: str, kafka_bootstrap: str) -> None:
    report = await fuzz_grpc.run(1500, 23, kafka_bootstrap, pg_dsn)
    assert set(report["services"]) == {
        "ontology",
        "curation",
        "routing",
        "prelabel",
        "qa",
        "datasets",
    }
    for service, r in report["services"].items():
        assert r["requests"] == 1500, service
        assert r["failures"] == [], (service, r["failures"])
        # The fuzz reached the handlers, not only the validator.
        assert r["codes"].get("OK", 0) + r["codes"].get("NOT_FOUND", 0) > 0, (service, r)
        assert r["codes"].get("INVALID_ARGUMENT", 0) > 0, (service, r)


async def test_bad_http_input_never_gets_a_server_error(pg_dsn: str, kafka_bootstrap: str) -> None:
    """The gateway's quick run (tools/fuzz_http.py): schemathesis-generated and byte-mutated
    requests over every route, no 5xx, the backends still ready."""
    import fuzz_http

    report = await fuzz_http.run(1200, 23, kafka_bootstrap, pg_dsn)
    assert report["failures"] == []
    assert report["requests"] == 1200 and report["generated"] > 0 and report["mutated"] > 0
    codes = report["codes"]
    assert codes.get("200", 0) > 0 and codes.get("400", 0) + codes.get("422", 0) > 0, codes

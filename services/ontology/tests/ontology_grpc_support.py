"""Helpers of the ontology service's integration tests (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from labelops_ontology.config import Settings
from labelops_testkit.grpc import fails
from labelops_testkit.grpc import serving as _serving
from labelops_testkit.kafka import wait_for_envelopes

__all__ = [
    "API_KEY",
    "CLIENT_MAX_BYTES",
    "PRINCIPAL",
    "fails",
    "ontology_settings",
    "serving",
    "stored",
    "wait_for_envelopes",
]

API_KEY = "ontology-test-key-0123456789"
PRINCIPAL = {"subject": "alice", "tenant_id": "acme", "roles": ["admin"]}
CLIENT_MAX_BYTES = 64 * 1024 * 1024

_TABLES = ("events", "requests", "ontologies", "ontology_versions", "ontology_migrations")


async def stored(pool: Any, schema: str) -> dict[str, int]:
    """Row counts of every table the service writes (events, idempotency, read models)."""
    return {t: await pool.fetchval(f'SELECT count(*) FROM "{schema}".{t}') for t in _TABLES}


async def serving(target: str) -> bool:
    """True when the server's health says SERVING, overall and for the ontology service."""
    return await _serving(target, ["labelops.ontology.v1.OntologyService"])


def ontology_settings(pg_schema: str, service: str, kafka_bootstrap: str, **over: Any) -> Settings:
    return Settings(
        db_schema=pg_schema,
        service_name=service,
        kafka_bootstrap=kafka_bootstrap,
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
        **over,
    )

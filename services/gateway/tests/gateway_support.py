"""Credentials and small helpers shared by the gateway tests."""

from __future__ import annotations

from typing import Any

import httpx
from labelops_demo.system import SERVICES, System
from labelops_gateway.config import Settings

ADMIN_KEY = "gateway-admin-key-0123456789"
VENDOR_KEY = "gateway-vendor-key-0123456789"
KEYS = {
    ADMIN_KEY: {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]},
    VENDOR_KEY: {
        "subject": "vendor-bot",
        "tenant_id": "acme",
        "kind": "vendor",
        "vendor_id": "acme-vendor",
    },
}
ADMIN = {"x-api-key": ADMIN_KEY}
VENDOR = {"x-api-key": VENDOR_KEY}


def error(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error response (asserting the shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert {"code", "message", "reason", "field_violations", "metadata"} <= set(err), err
    return err


def ontology_body(ontology_id: str) -> dict[str, Any]:
    """A CreateOntologyRequest as JSON: two whole-item classes."""
    return {
        "ontology_id": ontology_id,
        "display_name": "Pets",
        "definition": {
            "classes": [
                {"id": "cat", "name": "Cat", "geometry": "GEOMETRY_KIND_CLASSIFICATION"},
                {"id": "dog", "name": "Dog", "geometry": "GEOMETRY_KIND_CLASSIFICATION"},
            ]
        },
    }


def gateway_settings(system: System, kafka_bootstrap: str, **overrides: Any) -> Settings:
    """Settings pointing the gateway at ``system`` (targets and events topics)."""
    return Settings(
        **{f"{s}_target": t for s, t in system.targets.items()},
        kafka_bootstrap=kafka_bootstrap,
        event_topics=[system.topic(s) for s in SERVICES],
        **overrides,
    )

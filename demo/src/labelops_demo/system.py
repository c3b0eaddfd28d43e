"""All six services in one asyncio loop, wired to each other through Kafka topics.

``local_system`` is what whole-system tests (gateway, CLI, demo) and the in-process demo run:
each service gets its own Postgres schema and pool, its own events topic
``labelops.<name>.events.v1``, and every consumer setting points at the producing service's
topic, exactly as separate processes would be wired. Nothing is shared but Kafka and Postgres.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelops_grpckit import Authenticator

SERVICES = ("ontology", "curation", "routing", "prelabel", "qa", "datasets")
#: The ports `labelops up` and the gateway use by default.
DEFAULT_PORTS = {
    "ontology": 50051,
    "curation": 50052,
    "routing": 50053,
    "prelabel": 50054,
    "qa": 50055,
    "datasets": 50056,
}


def events_topic(name: str) -> str:
    return f"labelops.{name}.events.v1"


@dataclass
class System:
    """A running set of services: gRPC targets and the apps by service."""

    targets: dict[str, str]
    names: dict[str, str]
    apps: dict[str, Any] = field(default_factory=dict)

    def topic(self, service: str) -> str:
        """The events topic of ``service`` in this system."""
        return events_topic(self.names[service])


def wiring(names: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Consumer topic settings per service: each points at its producer's events topic."""
    t = {s: events_topic(n) for s, n in names.items()}
    return {
        "ontology": {},
        "curation": {},
        "routing": {
            "curation_topic": t["curation"],
            "ontology_topic": t["ontology"],
            "qa_topic": t["qa"],
            "prelabel_topic": t["prelabel"],
        },
        "prelabel": {
            "routing_topic": t["routing"],
            "qa_topic": t["qa"],
            "curation_topic": t["curation"],
        },
        "qa": {"routing_topic": t["routing"], "ontology_topic": t["ontology"]},
        "datasets": {
            "qa_topic": t["qa"],
            "curation_topic": t["curation"],
            "ontology_topic": t["ontology"],
        },
    }


@contextlib.asynccontextmanager
async def local_system(
    *,
    kafka_bootstrap: str,
    pg_dsn: str,
    data_dir: Path,
    schemas: Mapping[str, str] | None = None,
    prefix: str = "",
    ports: Mapping[str, int] | None = None,
    authenticator: Authenticator | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    host: str = "127.0.0.1",
) -> AsyncIterator[System]:
    """Start the six services (in dependency order), yield them, stop them on exit.

    ``schemas``: Postgres schema per service (default: the service's name). ``prefix``: service
    names (and so topics and consumer groups) become ``{prefix}{service}``, so several systems
    can share one Kafka. ``ports``: gRPC ports (default 0 = ephemeral). ``data_dir`` holds the
    embedded Qdrant and the dataset store. ``overrides``: extra settings per service.
    """
    from labelops_curation.bootstrap import build_app as build_curation
    from labelops_curation.config import Settings as CurationSettings
    from labelops_datasets.bootstrap import build_app as build_datasets
    from labelops_datasets.config import Settings as DatasetsSettings
    from labelops_ontology.bootstrap import build_app as build_ontology
    from labelops_ontology.config import Settings as OntologySettings
    from labelops_prelabel.bootstrap import build_app as build_prelabel
    from labelops_prelabel.config import Settings as PrelabelSettings
    from labelops_qa.bootstrap import build_app as build_qa
    from labelops_qa.config import Settings as QaSettings
    from labelops_routing.bootstrap import build_app as build_routing
    from labelops_routing.config import Settings as RoutingSettings

    builders: dict[str, tuple[Any, Any]] = {
        "ontology": (OntologySettings, build_ontology),
        "curation": (CurationSettings, build_curation),
        "routing": (RoutingSettings, build_routing),
        "prelabel": (PrelabelSettings, build_prelabel),
        "qa": (QaSettings, build_qa),
        "datasets": (DatasetsSettings, build_datasets),
    }
    names = {s: f"{prefix}{s}" for s in SERVICES}
    topics = wiring(names)
    extra: dict[str, dict[str, Any]] = {
        "curation": {"qdrant_path": str(data_dir / "qdrant")},
        "datasets": {"store_url": str(data_dir / "datasets")},
    }
    system = System(targets={}, names=names)
    async with contextlib.AsyncExitStack() as stack:
        for service in SERVICES:
            settings_cls, build = builders[service]
            kwargs: dict[str, Any] = {
                "pg_dsn": pg_dsn,
                "db_schema": (schemas or {}).get(service, names[service].replace("-", "_")),
                "service_name": names[service],
                "kafka_bootstrap": kafka_bootstrap,
                "host": host,
                "port": (ports or {}).get(service, 0),
                "grace_period_s": 1.0,
                **topics[service],
                **extra.get(service, {}),
                **dict((overrides or {}).get(service, {})),
            }
            app = await stack.enter_async_context(
                build(settings_cls(**kwargs), authenticator=authenticator)
            )
            system.apps[service] = app
            system.targets[service] = app.target
        yield system

"""The ontology service process: ``python -m labelops_ontology`` (gRPC port 50051 + relay)."""

from labelops_servicekit import run_service

from ..bootstrap import build_app
from ..config import Settings


def main() -> None:
    run_service(Settings, build_app)


if __name__ == "__main__":
    main()

"""The datasets service process: ``python -m labelops_datasets`` (gRPC port 50056, the outbox
relay and the accepted-label, item and ontology projections)."""

from labelops_servicekit import run_service

from ..bootstrap import build_app
from ..config import Settings


def main() -> None:
    run_service(Settings, build_app)


if __name__ == "__main__":
    main()

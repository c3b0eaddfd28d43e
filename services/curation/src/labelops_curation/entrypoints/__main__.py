"""The curation service process: ``python -m labelops_curation`` (gRPC port 50052, the outbox
relay and the Qdrant indexer)."""

from labelops_servicekit import run_service

from ..bootstrap import build_app
from ..config import Settings


def main() -> None:
    run_service(Settings, build_app)


if __name__ == "__main__":
    main()

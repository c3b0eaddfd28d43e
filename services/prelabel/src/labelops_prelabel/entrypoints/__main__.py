"""The prelabel service process: ``python -m labelops_prelabel`` (gRPC port 50054, the outbox
relay, the routing / qa / curation consumers and the pre-label and training loops)."""

from labelops_servicekit import run_service

from ..bootstrap import build_app
from ..config import Settings


def main() -> None:
    run_service(Settings, build_app)


if __name__ == "__main__":
    main()

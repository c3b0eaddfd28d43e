"""The QA service process: ``python -m labelops_qa`` (gRPC port 50055, relay, consumers)."""

from labelops_servicekit import run_service

from ..bootstrap import build_app
from ..config import Settings


def main() -> None:
    run_service(Settings, build_app)


if __name__ == "__main__":
    main()

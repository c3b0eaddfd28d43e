"""The routing service process: ``python -m labelops_routing`` (gRPC port 50053, relay,
consumers, lease sweeper)."""

from labelops_servicekit import run_service

from ..bootstrap import build_app
from ..config import Settings


def main() -> None:
    run_service(Settings, build_app)


if __name__ == "__main__":
    main()

"""The infrastructure labelops runs on: Kafka 4.1.1 (KRaft) + PostgreSQL, plus Qdrant's address.

Three ways to get it (see ``InfraSession`` and the pytest plugin):

* ``local``      -- single-node Kafka + PostgreSQL run from ``<repo>/.local/`` (this module).
* ``external``   -- running servers named by ``LABELOPS_KAFKA_BOOTSTRAP`` / ``LABELOPS_PG_DSN``.
* ``containers`` -- throw-away containers through testcontainers (needs a Docker engine).

Command line::

    python -m labelops_testkit.infra install   # Kafka jars (Maven), PostgreSQL (apt, as root)
    python -m labelops_testkit.infra up        # start what is down (installs first when needed)
    python -m labelops_testkit.infra status    # per component: up/down and its address (exit 0)
    python -m labelops_testkit.infra down      # stop both (data is kept)

Layout under ``<repo>/.local/`` (repo = ``$LABELOPS_HOME`` or found from this file)::

    kafka/libs/ server.properties cluster.id data/ kafka.log kafka.pid
    pg/data/ pg/run/ pg/pg.log
    infra.lock  sessions/<pid>  pinned

Only the standard library is imported at module level; aiokafka is imported when Kafka is probed.

The parts live in ``infra_base`` (addresses, helpers), ``local_kafka``, ``local_postgres`` and
``local_stack``; every name of them stays importable from here.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from .infra_base import ENV_HOME as ENV_HOME
from .infra_base import ENV_KAFKA as ENV_KAFKA
from .infra_base import ENV_PG as ENV_PG
from .infra_base import ENV_PG_BIN as ENV_PG_BIN
from .infra_base import ENV_QDRANT as ENV_QDRANT
from .infra_base import KAFKA_BOOTSTRAP as KAFKA_BOOTSTRAP
from .infra_base import KAFKA_CONTROLLER_PORT as KAFKA_CONTROLLER_PORT
from .infra_base import KAFKA_HEAP as KAFKA_HEAP
from .infra_base import KAFKA_HOST as KAFKA_HOST
from .infra_base import KAFKA_PORT as KAFKA_PORT
from .infra_base import KAFKA_READY_TIMEOUT as KAFKA_READY_TIMEOUT
from .infra_base import KAFKA_STOP_TIMEOUT as KAFKA_STOP_TIMEOUT
from .infra_base import KAFKA_VERSION as KAFKA_VERSION
from .infra_base import LOG_ROTATE_BYTES as LOG_ROTATE_BYTES
from .infra_base import MODES as MODES
from .infra_base import PG_DB as PG_DB
from .infra_base import PG_DSN as PG_DSN
from .infra_base import PG_HOST as PG_HOST
from .infra_base import PG_MAX_CONNECTIONS as PG_MAX_CONNECTIONS
from .infra_base import PG_PORT as PG_PORT
from .infra_base import PG_TIMEOUT as PG_TIMEOUT
from .infra_base import PG_USER as PG_USER
from .infra_base import InfraError as InfraError
from .infra_base import T as T
from .infra_base import _cmdline as _cmdline
from .infra_base import _is_root as _is_root
from .infra_base import _log as _log
from .infra_base import _port_open as _port_open
from .infra_base import _probe_kafka as _probe_kafka
from .infra_base import _rotate as _rotate
from .infra_base import _run as _run
from .infra_base import _run_coro as _run_coro
from .infra_base import _tail as _tail
from .infra_base import docker_engine_available as docker_engine_available
from .infra_base import pid_alive as pid_alive
from .infra_base import qdrant_url_from_env as qdrant_url_from_env
from .infra_base import repo_root as repo_root
from .infra_base import wait_kafka_ready as wait_kafka_ready
from .local_kafka import KafkaLocal as KafkaLocal
from .local_postgres import PostgresLocal as PostgresLocal
from .local_postgres import _pg_version_key as _pg_version_key
from .local_postgres import find_pg_bin as find_pg_bin
from .local_stack import Infra as Infra
from .local_stack import LocalStack as LocalStack
from .local_stack import _FileLock as _FileLock

__all__ = [
    "KAFKA_BOOTSTRAP",
    "PG_DSN",
    "Infra",
    "InfraError",
    "InfraSession",
    "KafkaLocal",
    "LocalStack",
    "PostgresLocal",
    "docker_engine_available",
    "main",
    "repo_root",
    "wait_kafka_ready",
]


# --------------------------------------------------------------------------------------------------
# Choosing the infrastructure (used by the pytest plugin; usable by scripts too)
# --------------------------------------------------------------------------------------------------


class InfraSession:
    """Resolve ``auto|local|external|containers`` to a running ``Infra``; ``close()`` undoes it.

    * external   -- LABELOPS_KAFKA_BOOTSTRAP + LABELOPS_PG_DSN (+ optional LABELOPS_QDRANT_URL).
    * local      -- reuse the local stack, or start it. On close, what pytest sessions started is
                    stopped by the last session using it (registered in .local/sessions/), unless
                    ``keep`` is set or the stack is pinned by ``infra up``. Servers started by
                    ``infra up`` (or by hand) are never stopped by a session.
    * containers -- testcontainers (apache/kafka + postgres); needs a Docker engine.
    * auto       -- external when both env vars are set, else the local stack when any part of it is
                    up, else containers when a Docker engine answers, else start the local stack.
    """

    def __init__(self, mode: str = "auto", *, keep: bool = False, root: Path | None = None) -> None:
        if mode not in (*MODES, "auto"):
            raise InfraError(f"unknown infra mode {mode!r} (auto|local|external|containers)")
        self.requested = mode
        self.keep = keep
        self.root = root
        self.infra: Infra | None = None
        self.stack: LocalStack | None = None
        self.started: set[str] = set()
        self.summary = ""
        self._containers: Any = None

    def resolve_mode(self) -> str:
        if self.requested != "auto":
            return self.requested
        if os.environ.get(ENV_KAFKA) and os.environ.get(ENV_PG):
            return "external"
        if LocalStack(self.root).any_up():
            return "local"
        if docker_engine_available():
            return "containers"
        return "local"

    def start(self) -> Infra:
        if self.infra is not None:
            return self.infra
        mode = self.resolve_mode()
        t0 = time.monotonic()
        if mode == "external":
            kafka, pg = os.environ.get(ENV_KAFKA), os.environ.get(ENV_PG)
            if not kafka or not pg:
                raise InfraError(
                    f"--infra=external needs {ENV_KAFKA} and {ENV_PG} in the environment"
                )
            self.infra = Infra("external", kafka, pg, qdrant_url_from_env())
            self.summary = f"external: kafka {kafka}, postgres {pg}"
        elif mode == "containers":
            from labelops_testkit.containers import ContainerStack

            if not docker_engine_available(timeout=5.0):
                raise InfraError("--infra=containers needs a Docker engine, and none answered")

            self._containers = ContainerStack()
            kafka, pg = self._containers.start()
            self.infra = Infra("containers", kafka, pg, qdrant_url_from_env())
            self.summary = (
                f"containers: kafka {kafka}, postgres {pg} ({time.monotonic() - t0:.1f}s)"
            )
        else:
            self.stack = LocalStack(self.root)
            with self.stack.lock():
                self.stack.register_session()
                try:
                    self.started = self.stack.up()
                except BaseException:
                    self.stack.unregister_session()
                    raise
                if self.started and not self.stack.pinned():
                    self.stack.set_session_started(self.stack.session_started() | self.started)
            self.infra = self.stack.infra()
            how = f"started {', '.join(sorted(self.started))}" if self.started else "reused"
            self.summary = f"local ({how}): kafka {KAFKA_BOOTSTRAP}, postgres {PG_DSN}"
            if self.started:
                self.summary += f" ({time.monotonic() - t0:.1f}s)"
        return self.infra

    def close(self) -> None:
        if self._containers is not None:
            self._containers.stop()
            self._containers = None
        if self.stack is not None:
            stack = self.stack
            with stack.lock():
                stack.unregister_session()
                pending = stack.session_started()
                if self.keep:
                    # Whatever this session started now belongs to the developer.
                    stack.set_session_started(pending - self.started)
                    if self.started:
                        self.summary += "; left running (--keep-infra)"
                elif pending:
                    others = stack.other_sessions()
                    if stack.pinned():
                        stack.set_session_started(set())
                        self.summary += "; left running (pinned by `infra up`)"
                    elif others:
                        # The last session out stops it.
                        self.summary += f"; left running for pids {others}"
                    else:
                        stack.stop(pending)
                        stack.set_session_started(set())
                        self.summary += f"; stopped {', '.join(sorted(pending))}"
            self.stack = None


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def _print_status(stack: LocalStack) -> None:
    for name, _, detail in stack.status():
        print(f"{name:9} {detail}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m labelops_testkit.infra",
        description="The local Kafka + PostgreSQL stack under <repo>/.local",
    )
    parser.add_argument("command", choices=("install", "up", "down", "status"))
    args = parser.parse_args(argv)
    stack = LocalStack()
    t0 = time.monotonic()
    try:
        if args.command == "install":
            stack.install()
        elif args.command == "up":
            stack.install()
            stack.up(pin=True)
            _print_status(stack)
        elif args.command == "down":
            stack.down()
            _print_status(stack)
        else:
            _print_status(stack)
            return 0
    except (InfraError, TimeoutError) as exc:
        _log(f"{args.command} failed: {exc}")
        return 1
    _log(f"{args.command} done in {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The local stack (both servers, a lock, and who is using them) and ``Infra``, where the
infrastructure is."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .infra_base import (
    ENV_QDRANT,
    KAFKA_BOOTSTRAP,
    PG_DSN,
    _log,
    pid_alive,
    qdrant_url_from_env,
    repo_root,
)
from .local_kafka import KafkaLocal
from .local_postgres import PostgresLocal


@dataclass
class Infra:
    """Where the infrastructure is. ``stop_kafka``/``start_kafka`` only work in ``local`` mode."""

    mode: str  # "local" | "external" | "containers"
    kafka_bootstrap: str  # "127.0.0.1:29092"
    pg_dsn: str  # "postgresql://labelops@127.0.0.1:55432/labelops"
    qdrant_url: str | None = None
    local: LocalStack | None = field(default=None, repr=False, compare=False)

    def _stack(self) -> LocalStack:
        if self.mode != "local" or self.local is None:
            raise RuntimeError(
                f"Kafka can only be stopped/started in local mode (mode={self.mode})"
            )
        return self.local

    def stop_kafka(self) -> None:
        """Stop the local broker cleanly (SIGTERM, wait). Its data is kept."""
        stack = self._stack()
        with stack.lock():
            stack.kafka.stop()

    def start_kafka(self) -> None:
        """Start the local broker again and wait until it serves metadata."""
        stack = self._stack()
        with stack.lock():
            stack.kafka.start()


class _FileLock:
    """Inter-process lock (flock) that the same thread may take again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0
        self._mutex = threading.RLock()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._mutex:
            if self._depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None


class LocalStack:
    """Kafka + PostgreSQL under ``<repo>/.local``; Qdrant is embedded unless LABELOPS_QDRANT_URL."""

    COMPONENTS = ("kafka", "postgres")

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or repo_root()).resolve()
        self.local_dir = self.root / ".local"
        self.kafka = KafkaLocal(self.root)
        self.postgres = PostgresLocal(self.root)
        self.lock = _FileLock(self.local_dir / "infra.lock")
        self.sessions_dir = self.local_dir / "sessions"
        self.pin_file = self.local_dir / "pinned"
        self.auto_file = self.local_dir / "session-started"

    def _component(self, name: str) -> KafkaLocal | PostgresLocal:
        return self.kafka if name == "kafka" else self.postgres

    def infra(self) -> Infra:
        return Infra(
            mode="local",
            kafka_bootstrap=KAFKA_BOOTSTRAP,
            pg_dsn=PG_DSN,
            qdrant_url=qdrant_url_from_env(),
            local=self,
        )

    def install(self) -> None:
        with self.lock():
            t0 = time.monotonic()
            fetched = self.kafka.install()
            _log(
                f"Kafka jars {'fetched' if fetched else 'present'} in {self.kafka.libs} "
                f"({time.monotonic() - t0:.1f}s)"
            )
            t0 = time.monotonic()
            added = self.postgres.install()
            _log(
                f"PostgreSQL binaries {'installed' if added else 'present'}: {self.postgres.bin()} "
                f"({time.monotonic() - t0:.1f}s)"
            )

    def any_up(self) -> bool:
        return any(c.running() or c.foreign() for c in (self.kafka, self.postgres))

    def up(self, *, pin: bool = False) -> set[str]:
        """Start what is down (installing first when needed). Returns the components it started."""
        started: set[str] = set()
        with self.lock():
            if pin:
                self.pin_file.write_text("started by `labelops_testkit.infra up`\n")
                self.auto_file.unlink(missing_ok=True)
            for name in self.COMPONENTS:
                comp = self._component(name)
                if comp.foreign():
                    _log(
                        f"{name}: port in use by a server not started from this checkout; using it"
                    )
                    continue
                if comp.start():
                    started.add(name)
        return started

    def stop(self, components: set[str] | tuple[str, ...] = COMPONENTS) -> None:
        with self.lock():
            for name in self.COMPONENTS:
                if name in components:
                    self._component(name).stop()

    def down(self) -> None:
        with self.lock():
            self.pin_file.unlink(missing_ok=True)
            self.auto_file.unlink(missing_ok=True)
            self.stop()

    def status(self) -> list[tuple[str, bool, str]]:
        rows = [
            ("kafka", *self.kafka.status()),
            ("postgres", *self.postgres.status()),
        ]
        url = qdrant_url_from_env()
        rows.append(
            (
                "qdrant",
                True,
                f"server {url}"
                if url
                else f"embedded (qdrant-client local mode; set {ENV_QDRANT})",
            )
        )
        return rows

    # -- who uses the stack ---------------------------------------------------------------------
    def pinned(self) -> bool:
        return self.pin_file.exists()

    def session_started(self) -> set[str]:
        """Components pytest sessions started and nobody has stopped yet (see InfraSession)."""
        try:
            names = set(self.auto_file.read_text().split())
        except OSError:
            return set()
        return names & set(self.COMPONENTS)

    def set_session_started(self, names: set[str]) -> None:
        if names:
            self.auto_file.write_text("\n".join(sorted(names)) + "\n")
        else:
            self.auto_file.unlink(missing_ok=True)

    def register_session(self, pid: int | None = None) -> None:
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        (self.sessions_dir / str(pid or os.getpid())).write_text(f"{time.time():.0f}\n")

    def unregister_session(self, pid: int | None = None) -> None:
        (self.sessions_dir / str(pid or os.getpid())).unlink(missing_ok=True)

    def other_sessions(self) -> list[int]:
        """Pids of other live processes (pytest sessions) that registered as users of this stack."""
        pids: list[int] = []
        if not self.sessions_dir.exists():
            return pids
        for entry in self.sessions_dir.iterdir():
            try:
                pid = int(entry.name)
            except ValueError:
                continue
            if pid == os.getpid():
                continue
            if pid_alive(pid):
                pids.append(pid)
            else:
                entry.unlink(missing_ok=True)
        return sorted(pids)

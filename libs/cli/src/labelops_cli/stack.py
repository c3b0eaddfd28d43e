"""The local processes of ``labelops up``: the six services and the gateway.

Each runs as ``python -m labelops_<name>`` in its own session (so it outlives the CLI and a
Ctrl-C in the terminal does not reach it), with its output appended to ``<run_dir>/<name>.log``
and its pid in ``<run_dir>/<name>.pid``. A pid file is trusted only while that pid is alive and
its command line names the service's module, so a recycled pid is never signalled.

Only the standard library, grpc and httpx are used here; Kafka and PostgreSQL themselves come
from ``labelops_testkit.infra`` (see ``commands/local.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelops_testkit.infra import pid_alive

SERVICES = ("ontology", "curation", "routing", "prelabel", "qa", "datasets")
GATEWAY = "gateway"
#: Default ports: the services' own defaults, and the gateway's.
DEFAULT_PORTS = {
    "ontology": 50051,
    "curation": 50052,
    "routing": 50053,
    "prelabel": 50054,
    "qa": 50055,
    "datasets": 50056,
    GATEWAY: 8080,
}
API_KEYS_FILE = "api-keys.json"
#: Seconds between SIGTERM and SIGKILL: above the services' 10 s grace period for in-flight calls.
DEFAULT_STOP_GRACE_S = 15.0

#: Health states (gRPC names, plus what a probe can find instead).
SERVING = "SERVING"
DOWN = "down"
UNREACHABLE = "unreachable"


class StackError(RuntimeError):
    """A process could not be started, or did not become healthy."""


def repo_root() -> Path:
    """The checkout (``$LABELOPS_HOME`` or found from the installed packages)."""
    from labelops_testkit.infra import repo_root as infra_root

    return infra_root()


def default_run_dir() -> Path:
    """``<repo>/.local/run``."""
    return repo_root() / ".local" / "run"


# --------------------------------------------------------------------------------------------
# Dev credentials
# --------------------------------------------------------------------------------------------


def dev_api_keys(tenant_id: str = "dev") -> dict[str, dict[str, Any]]:
    """Fresh random keys in ``LABELOPS_API_KEYS`` shape: an admin, vendors a and b, a reviewer."""

    def key(name: str) -> str:
        return f"lo-{name}-{secrets.token_urlsafe(18)}"

    return {
        key("admin"): {"subject": "dev-admin", "tenant_id": tenant_id, "roles": ["admin"]},
        key("vendor-a"): {
            "subject": "vendor-a-bot",
            "tenant_id": tenant_id,
            "kind": "vendor",
            "vendor_id": "vendor-a",
            "roles": ["annotator"],
        },
        key("vendor-b"): {
            "subject": "vendor-b-bot",
            "tenant_id": tenant_id,
            "kind": "vendor",
            "vendor_id": "vendor-b",
            "roles": ["annotator"],
        },
        key("reviewer"): {"subject": "dev-reviewer", "tenant_id": tenant_id, "roles": ["reviewer"]},
    }


def ensure_api_keys(path: Path) -> bool:
    """Write dev keys to ``path`` (mode 0600) unless it exists. True when it wrote them."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dev_api_keys(), indent=2) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another `labelops up` won the race; its keys stand
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return True


def read_api_keys(path: Path) -> dict[str, dict[str, Any]]:
    """The keys file as ``{key: fields}``; empty when missing or unreadable."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def admin_key(path: Path) -> str | None:
    """The first key of a user or service with the admin role in the keys file, or None."""
    for key, fields in read_api_keys(path).items():
        roles = fields.get("roles") or []
        if fields.get("kind", "user") in ("user", "service") and "admin" in roles:
            return key
    return None


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the stack: ``python -m <module>`` listening on ``host:port``."""

    name: str
    port: int
    host: str = "127.0.0.1"
    #: Environment on top of the CLI's own (wins over it).
    env: Mapping[str, str] = field(default_factory=dict)
    module: str = ""

    @property
    def module_name(self) -> str:
        return self.module or f"labelops_{self.name}"

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http(self) -> bool:
        """Probed with GET /healthz instead of grpc.health.v1."""
        return self.name == GATEWAY


@dataclass
class ServiceStatus:
    """What ``status`` shows for one process."""

    name: str
    port: int
    pid: int | None
    health: str
    log: Path

    @property
    def healthy(self) -> bool:
        return self.health == SERVING


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return "" if Path("/proc/self").exists() else None  # None: no procfs to check with
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """Something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 32 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:])


async def grpc_health(target: str, timeout: float = 1.0) -> str:
    """The server's overall grpc.health.v1 status name, or ``unreachable``."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from labelops_grpckit import channel

    async with channel(target) as ch:
        try:
            resp = await health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return UNREACHABLE
            return exc.code().name
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))


async def http_health(url: str, timeout: float = 1.0) -> str:
    """``SERVING`` when ``GET url`` answers 200, else ``HTTP <code>`` or ``unreachable``."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.get(url)
    except httpx.HTTPError:
        return UNREACHABLE
    return SERVING if resp.status_code == 200 else f"HTTP {resp.status_code}"


class Stack:
    """Start, probe and stop the processes of ``specs``, bookkept in ``run_dir``."""

    def __init__(
        self, run_dir: Path, specs: Sequence[ServiceSpec], *, cwd: Path | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self.specs = {s.name: s for s in specs}
        self.cwd = cwd
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def keys_file(self) -> Path:
        return self.run_dir / API_KEYS_FILE

    def spec(self, name: str) -> ServiceSpec:
        return self.specs[name]

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def _alive(self, pid: int) -> bool:
        proc = self._children.get(pid)
        if proc is not None:
            return proc.poll() is None
        return pid_alive(pid)

    def _recorded_pid(self, name: str) -> int | None:
        try:
            return int(self.pid_file(name).read_text().strip())
        except (OSError, ValueError):
            return None

    def pid(self, name: str) -> int | None:
        """Pid of the running process ``labelops up`` started for ``name``, or None."""
        pid = self._recorded_pid(name)
        if pid is None or not self._alive(pid):
            return None
        cmdline = _cmdline(pid)
        if cmdline is not None and self.spec(name).module_name not in cmdline:
            return None  # the pid was recycled by another program
        return pid

    def start(self, name: str) -> tuple[str, int | None]:
        """Start ``name`` unless it runs. Returns ``("running" | "started" | "foreign", pid)``;
        "foreign" = its port is taken by a process this stack did not start (left alone)."""
        spec = self.spec(name)
        pid = self.pid(name)
        if pid is not None:
            return "running", pid
        self.pid_file(name).unlink(missing_ok=True)  # stale: that process is gone
        if port_open(spec.host, spec.port):
            return "foreign", None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["LABELOPS_API_KEYS_FILE"] = str(self.keys_file)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(spec.env)
        log_path = self.log_file(name)
        with log_path.open("ab") as log:
            log.write(f"\n===== {time.ctime()}: python -m {spec.module_name} =====\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", spec.module_name],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
            )
        self._children[proc.pid] = proc
        self.pid_file(name).write_text(f"{proc.pid}\n")
        return "started", proc.pid

    async def health(self, name: str, timeout: float = 1.0) -> str:
        """SERVING / NOT_SERVING / unreachable (and for the gateway ``HTTP <code>``)."""
        spec = self.spec(name)
        if spec.http:
            return await http_health(f"http://{spec.target}/healthz", timeout)
        return await grpc_health(spec.target, timeout)

    async def wait_healthy(self, name: str, timeout: float, interval: float = 0.3) -> None:
        """Until ``name`` is SERVING; StackError (with its log's tail) when its process exits
        or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        # The recorded pid, alive or not: a process that already exited must be reported.
        pid = self._recorded_pid(name)
        while True:
            if await self.health(name) == SERVING:
                return
            if pid is not None and not self._alive(pid):
                proc = self._children.pop(pid, None)
                code = f" with code {proc.returncode}" if proc is not None else ""
                self.pid_file(name).unlink(missing_ok=True)
                raise StackError(
                    f"{name} exited{code}; last lines of {self.log_file(name)}:\n"
                    + tail(self.log_file(name))
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{name} not healthy after {timeout:.0f}s; last lines of "
                    f"{self.log_file(name)}:\n" + tail(self.log_file(name))
                )
            await asyncio.sleep(interval)

    def stop(self, name: str, grace: float = DEFAULT_STOP_GRACE_S) -> str:
        """SIGTERM, wait ``grace`` seconds, then SIGKILL. Returns "stopped", "killed" or
        "not running"."""
        pid = self.pid(name)
        outcome = "not running"
        if pid is not None:
            outcome = "stopped"
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not self._wait_exit(pid, grace):
                outcome = "killed"
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._wait_exit(pid, 10.0)
            self._children.pop(pid, None)
        self.pid_file(name).unlink(missing_ok=True)
        return outcome

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    async def status(self, names: Sequence[str] | None = None) -> list[ServiceStatus]:
        """Pid and health of each process (probed concurrently)."""
        chosen = list(names or self.specs)
        healths = await asyncio.gather(*(self.health(n) for n in chosen))
        return [
            ServiceStatus(
                name=n,
                port=self.spec(n).port,
                pid=self.pid(n),
                health=h,
                log=self.log_file(n),
            )
            for n, h in zip(chosen, healths, strict=True)
        ]


def gateway_available() -> bool:
    """Whether ``python -m labelops_gateway`` can run (the gateway is built separately)."""
    import importlib.util

    try:
        return importlib.util.find_spec("labelops_gateway.__main__") is not None
    except (ImportError, ValueError):
        return False


def default_specs(
    *,
    targets: Mapping[str, str],
    gateway_port: int,
    data_dir: Path,
    kafka_bootstrap: str | None = None,
    pg_dsn: str | None = None,
    include_gateway: bool = True,
) -> list[ServiceSpec]:
    """The specs ``labelops up`` starts: ports from the CLI's targets, data under ``data_dir``.

    Settings already in the CLI's environment are left to it (a developer's
    ``LABELOPS_CURATION_QDRANT_PATH`` wins over the default here).
    """
    specs: list[ServiceSpec] = []
    for name in SERVICES:
        host, port = split_target(targets[name])
        prefix = f"LABELOPS_{name.upper()}_"
        env: dict[str, str] = {f"{prefix}PORT": str(port)}
        if host in ("127.0.0.1", "localhost"):
            # A dev stack listens on loopback only (the services' default is every interface).
            env[f"{prefix}HOST"] = "127.0.0.1"
        if kafka_bootstrap:
            env[f"{prefix}KAFKA_BOOTSTRAP"] = kafka_bootstrap
        if pg_dsn:
            env[f"{prefix}PG_DSN"] = pg_dsn
        if name == "curation":
            env[f"{prefix}QDRANT_PATH"] = str(data_dir / "curation" / "qdrant")
        if name == "datasets":
            env[f"{prefix}STORE_URL"] = str(data_dir / "datasets")
        env = {
            k: v for k, v in env.items() if k not in os.environ or k.endswith(("_PORT", "_HOST"))
        }
        specs.append(ServiceSpec(name, port, "127.0.0.1", env))
    if include_gateway:
        # labelops_gateway.config.Settings (prefix LABELOPS_GATEWAY_).
        env = {
            "LABELOPS_GATEWAY_PORT": str(gateway_port),
            "LABELOPS_GATEWAY_HOST": "127.0.0.1",
            **{f"LABELOPS_GATEWAY_{n.upper()}_TARGET": targets[n] for n in SERVICES},
            # Version downloads read the datasets service's store directly.
            "LABELOPS_GATEWAY_DATASETS_STORE_URL": str(data_dir / "datasets"),
        }
        if kafka_bootstrap:
            env["LABELOPS_GATEWAY_KAFKA_BOOTSTRAP"] = kafka_bootstrap
        env = {
            k: v for k, v in env.items() if k not in os.environ or k.endswith(("_PORT", "_HOST"))
        }
        specs.append(ServiceSpec(GATEWAY, gateway_port, "127.0.0.1", env))
    return specs


def split_target(target: str) -> tuple[str, int]:
    """``host:port`` → (host, port); ValueError when there is no port."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"target {target!r} is not host:port")
    return host.strip("[]") or "127.0.0.1", int(port)

"""Where the local infrastructure listens, its errors, and the small process / network helpers
every part of it uses (``labelops_testkit.infra`` re-exports all of it).

Only the standard library is imported at module level; aiokafka is imported when Kafka is probed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

KAFKA_VERSION = "4.1.1"
KAFKA_HOST = "127.0.0.1"
KAFKA_PORT = 29092
KAFKA_CONTROLLER_PORT = 29093
KAFKA_BOOTSTRAP = f"{KAFKA_HOST}:{KAFKA_PORT}"
KAFKA_HEAP = ("-Xms256m", "-Xmx768m")

PG_HOST = "127.0.0.1"
PG_PORT = 55432
PG_USER = "labelops"
PG_DB = "labelops"
PG_MAX_CONNECTIONS = 300
PG_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}"

ENV_HOME = "LABELOPS_HOME"
ENV_KAFKA = "LABELOPS_KAFKA_BOOTSTRAP"
ENV_PG = "LABELOPS_PG_DSN"
ENV_QDRANT = "LABELOPS_QDRANT_URL"
ENV_PG_BIN = "LABELOPS_PG_BIN"

KAFKA_READY_TIMEOUT = 90.0
KAFKA_STOP_TIMEOUT = 60.0
PG_TIMEOUT = 60
LOG_ROTATE_BYTES = 20 * 1024 * 1024

MODES = ("local", "external", "containers")

T = TypeVar("T")


class InfraError(RuntimeError):
    """The infrastructure could not be installed, started or reached."""


def repo_root() -> Path:
    """``$LABELOPS_HOME``, else the checkout holding this file (parents[4])."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[4]


def qdrant_url_from_env() -> str | None:
    """Qdrant server URL, or None: services then use qdrant-client's embedded (local) mode."""
    return os.environ.get(ENV_QDRANT) or None


def _log(msg: str) -> None:
    print(f"[labelops-infra] {msg}", file=sys.stderr, flush=True)


def _is_root() -> bool:
    return os.geteuid() == 0


# --------------------------------------------------------------------------------------------------
# Small process / network helpers
# --------------------------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie counts as dead and is reaped when it is our child)."""
    if pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
        state = stat_line.rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass
    return True


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:])


def _rotate(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_size > LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))


def _run(
    cmd: list[str], *, check: bool = True, timeout: float | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, text=True, capture_output=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()
        raise InfraError(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{out}")
    return proc


def _run_coro(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, also when an event loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="labelops-infra-probe", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _probe_kafka(bootstrap: str) -> None:
    """Raise unless the broker answers metadata requests and every partition has a leader."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, retry_backoff_ms=200
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        if not cluster.get("brokers"):
            raise InfraError("no live broker in the cluster metadata yet")
        for topic in await admin.describe_topics():
            if topic.get("error_code"):
                raise InfraError(f"topic {topic.get('topic')}: error {topic['error_code']}")
            for part in topic.get("partitions", []):
                if part.get("leader", -1) < 0:
                    raise InfraError(f"{topic.get('topic')}[{part.get('partition')}] has no leader")
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def wait_kafka_ready(
    bootstrap: str,
    timeout: float = KAFKA_READY_TIMEOUT,
    *,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``bootstrap`` with an admin client until it serves metadata (or raise TimeoutError).

    ``alive`` (optional) is checked between attempts so a crashed process fails fast.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    host, _, port = bootstrap.rpartition(":")
    while True:
        if alive is not None and not alive():
            raise InfraError(f"Kafka process exited while waiting for {bootstrap}")
        if _port_open(host, int(port)):
            try:
                _run_coro(lambda: asyncio.wait_for(_probe_kafka(bootstrap), 10))
                return
            except Exception as exc:
                last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"Kafka at {bootstrap} not ready after {timeout:.0f}s: {last!r}")
        time.sleep(0.5)


def docker_engine_available(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers a ping within ``timeout`` seconds."""
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        if not shutil.which("docker"):
            return False
        try:
            return (
                subprocess.run(
                    ["docker", "info"], capture_output=True, timeout=timeout + 3
                ).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    try:
        client = docker.from_env(timeout=max(1, int(timeout)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False

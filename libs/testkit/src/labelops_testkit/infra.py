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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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


# --------------------------------------------------------------------------------------------------
# The Infra object everyone builds on
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------------------


class KafkaLocal:
    """Single-node KRaft Kafka from the Maven Central jars, living in ``.local/kafka``."""

    name = "kafka"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.deploy = root / "deploy" / "local" / "kafka"
        self.pom = self.deploy / "pom.xml"
        self.template = self.deploy / "server.properties"
        self.log4j = self.deploy / "log4j2.properties"
        self.dir = root / ".local" / "kafka"
        self.libs = self.dir / "libs"
        self.libs_stamp = self.dir / "libs.sha256"
        self.data = self.dir / "data"
        self.config = self.dir / "server.properties"
        self.cluster_id_file = self.dir / "cluster.id"
        self.logfile = self.dir / "kafka.log"
        self.pidfile = self.dir / "kafka.pid"
        self.bootstrap = KAFKA_BOOTSTRAP
        self._proc: subprocess.Popen[bytes] | None = None

    # -- install ------------------------------------------------------------------------------
    def _pom_digest(self) -> str:
        return hashlib.sha256(self.pom.read_bytes()).hexdigest()

    def installed(self) -> bool:
        if not (self.libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
            return False
        try:
            return self.libs_stamp.read_text().strip() == self._pom_digest()
        except OSError:
            return False

    def install(self) -> bool:
        """Copy the broker's jars with Maven (skipped when present). True when it downloaded."""
        if self.installed():
            return False
        mvn = shutil.which("mvn")
        if not mvn:
            raise InfraError(
                "Maven (mvn) is needed to fetch the Kafka jars: apt-get install -y maven"
            )
        self._java()
        if self.libs.exists():
            shutil.rmtree(self.libs)
        self.dir.mkdir(parents=True, exist_ok=True)
        _log(f"fetching Kafka {KAFKA_VERSION} jars with Maven into {self.libs}")
        _run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(self.pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
            ],
            timeout=1800,
        )
        if not (self.libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
            raise InfraError(
                f"Maven finished but {self.libs} has no kafka_2.13-{KAFKA_VERSION}.jar"
            )
        self.libs_stamp.write_text(self._pom_digest() + "\n")
        return True

    @staticmethod
    def _java() -> str:
        home = os.environ.get("JAVA_HOME")
        if home and (Path(home) / "bin" / "java").exists():
            return str(Path(home) / "bin" / "java")
        java = shutil.which("java")
        if not java:
            raise InfraError(
                "Java 17+ is needed for Kafka: apt-get install -y openjdk-17-jre-headless"
            )
        return java

    # -- config / storage ---------------------------------------------------------------------
    def render_config(self) -> str:
        tmpl = string.Template(self.template.read_text())
        return tmpl.substitute(
            HOST=KAFKA_HOST,
            PORT=KAFKA_PORT,
            CONTROLLER_PORT=KAFKA_CONTROLLER_PORT,
            DATA_DIR=str(self.data),
        )

    def _write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        text = self.render_config()
        if not self.config.exists() or self.config.read_text() != text:
            self.config.write_text(text)

    def cluster_id(self) -> str:
        try:
            cid = self.cluster_id_file.read_text().strip()
            if cid:
                return cid
        except OSError:
            pass
        while (
            True
        ):  # Kafka's Uuid: 16 random bytes, base64url without padding, not starting with '-'
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            if not cid.startswith("-"):
                break
        self.cluster_id_file.write_text(cid + "\n")
        return cid

    def _java_cmd(self, main_class: str, *args: str) -> list[str]:
        return [
            self._java(),
            *KAFKA_HEAP,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j}",
            "-cp",
            f"{self.libs}/*",
            main_class,
            *args,
        ]

    def formatted(self) -> bool:
        return (self.data / "meta.properties").exists()

    def format_storage(self) -> bool:
        """Format the KRaft storage once. True when it formatted."""
        self._write_config()
        if self.formatted():
            return False
        self.data.mkdir(parents=True, exist_ok=True)
        cmd = self._java_cmd(
            "kafka.tools.StorageTool", "format", "-t", self.cluster_id(), "-c", str(self.config)
        )
        # The storage tool does not need the broker's heap.
        cmd = [c for c in cmd if c not in KAFKA_HEAP]
        _run(cmd, timeout=180)
        return True

    # -- process ------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """Pid of the broker started from this checkout, when it runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and "kafka.Kafka" in _cmdline(pid):
            return pid
        return None

    def running(self) -> bool:
        return self.pid() is not None

    def foreign(self) -> bool:
        """Something else (not our broker) listens on the Kafka port."""
        return not self.running() and _port_open(KAFKA_HOST, KAFKA_PORT)

    def ready(self) -> bool:
        try:
            wait_kafka_ready(self.bootstrap, timeout=0)
            return True
        except Exception:
            return False

    def start(self, timeout: float = KAFKA_READY_TIMEOUT) -> bool:
        """Start the broker unless it runs; wait until ready. True when it started a process."""
        pid = self.pid()
        if pid is not None:
            self._wait_ready(timeout)
            return False
        if _port_open(KAFKA_HOST, KAFKA_PORT) or _port_open(KAFKA_HOST, KAFKA_CONTROLLER_PORT):
            raise InfraError(
                f"ports {KAFKA_PORT}/{KAFKA_CONTROLLER_PORT} are taken by another process "
                "(not the broker of this checkout); stop it or use --infra=external"
            )
        self.install()
        self.format_storage()
        _rotate(self.logfile)
        t0 = time.monotonic()
        with self.logfile.open("ab") as log:
            log.write(f"\n===== starting Kafka {KAFKA_VERSION} at {time.ctime()} =====\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self._java_cmd("kafka.Kafka", str(self.config)),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(timeout)
        except BaseException:
            _log(
                f"Kafka did not become ready; last lines of {self.logfile}:\n{_tail(self.logfile)}"
            )
            self.stop()
            raise
        _log(f"Kafka up at {self.bootstrap} in {time.monotonic() - t0:.1f}s (pid {self._proc.pid})")
        return True

    def _wait_ready(self, timeout: float) -> None:
        pid = self.pid()
        wait_kafka_ready(self.bootstrap, timeout, alive=(lambda: pid_alive(pid)) if pid else None)

    def stop(self, timeout: float = KAFKA_STOP_TIMEOUT) -> bool:
        """SIGTERM (clean shutdown), wait, SIGKILL after ``timeout``. True when it stopped one."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        t0 = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = t0 + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            _log(f"Kafka (pid {pid}) ignored SIGTERM for {timeout:.0f}s: SIGKILL")
            try:
                os.killpg(pid, signal.SIGKILL)  # started with start_new_session: pid == pgid
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.1)
        if self._proc is not None and self._proc.pid == pid:
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=5)
            self._proc = None
        self.pidfile.unlink(missing_ok=True)
        _log(f"Kafka stopped in {time.monotonic() - t0:.1f}s")
        return True

    def status(self) -> tuple[bool, str]:
        pid = self.pid()
        if pid is not None:
            state = "up" if self.ready() else "starting/unhealthy"
            return state == "up", f"{state:5} {self.bootstrap}  (pid {pid}, {self.dir})"
        if self.foreign():
            return True, f"up    {self.bootstrap}  (not started from this checkout)"
        return False, f"down  {self.bootstrap}"


# --------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------


def _pg_version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in path.parent.name.split("."))
    except ValueError:
        return (0,)


def find_pg_bin() -> Path | None:
    """``$LABELOPS_PG_BIN``, the newest /usr/lib/postgresql/*/bin, or where pg_ctl is on PATH."""
    candidates: list[Path] = []
    env = os.environ.get(ENV_PG_BIN)
    if env:
        candidates.append(Path(env))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=_pg_version_key, reverse=True
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for cand in candidates:
        if all((cand / tool).exists() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return cand
    return None


class PostgresLocal:
    """A PostgreSQL server in ``.local/pg`` on 127.0.0.1:55432, trust auth, user/db ``labelops``."""

    name = "postgres"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / ".local" / "pg"
        self.data = self.dir / "data"
        self.run_dir = self.dir / "run"
        self.logfile = self.dir / "pg.log"
        self.dsn = PG_DSN

    # -- install ------------------------------------------------------------------------------
    def bin(self) -> Path:
        found = find_pg_bin()
        if found is None:
            raise InfraError(
                "PostgreSQL server binaries not found (looked in $LABELOPS_PG_BIN, "
                "/usr/lib/postgresql/*/bin, PATH). Install them: "
                "sudo apt-get install -y postgresql   (or run `python -m labelops_testkit.infra "
                "install` as root)"
            )
        return found

    def installed(self) -> bool:
        return find_pg_bin() is not None

    def install(self) -> bool:
        """apt-get install postgresql when the binaries are missing and we are root."""
        if self.installed():
            return False
        if not _is_root():
            self.bin()  # raises with instructions
        _log("PostgreSQL binaries missing: apt-get install -y postgresql")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update"], env=env, timeout=900)
        _run(
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
            env=env,
            timeout=1800,
        )
        self.bin()
        return True

    # -- helpers ------------------------------------------------------------------------------
    def _as_owner(self, cmd: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: as root, run the command as the postgres user."""
        if _is_root():
            return ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def _prepare_dirs(self) -> None:
        for d in (self.dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        if not _is_root():
            return
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise InfraError(
                "running as root but there is no 'postgres' user to run the server"
            ) from exc
        # Every parent must be traversable by the postgres user.
        for parent in [self.dir, *self.dir.parents]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                _log(f"chmod o+x {parent} (so the postgres user can reach {self.dir})")
                parent.chmod(mode | stat.S_IXOTH)
        for path in (self.dir, self.run_dir, self.data if self.data.exists() else None):
            if path is not None and path.stat().st_uid != pw.pw_uid:
                _run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", str(path)])
        if self.logfile.exists() and self.logfile.stat().st_uid != pw.pw_uid:
            os.chown(self.logfile, pw.pw_uid, pw.pw_gid)

    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> bool:
        """initdb once. True when it created the cluster."""
        if self.initialized():
            return False
        self._prepare_dirs()
        if self.data.exists() and any(self.data.iterdir()):
            raise InfraError(f"{self.data} is not empty but holds no PostgreSQL cluster; remove it")
        pg_bin = self.bin()
        _log(f"initdb {self.data}")
        _run(
            self._as_owner(
                [
                    str(pg_bin / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "-U",
                    PG_USER,
                    "-E",
                    "UTF8",
                    "--no-locale",
                ]
            ),
            cwd="/",
            timeout=300,
        )
        return True

    def server_options(self) -> str:
        opts = [
            ("port", str(PG_PORT)),
            ("listen_addresses", PG_HOST),
            ("unix_socket_directories", str(self.run_dir)),
            ("max_connections", str(PG_MAX_CONNECTIONS)),
            # synchronous_commit stays on: "an acknowledged label is committed" must hold here
            # too, and benchmarks must measure the durable path.
        ]
        return " ".join(f"-c {k}={shlex.quote(v)}" for k, v in opts)

    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) and "postgres" in _cmdline(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def foreign(self) -> bool:
        return not self.running() and _port_open(PG_HOST, PG_PORT)

    def accepting(self) -> bool:
        try:
            proc = _run(
                [
                    str(self.bin() / "pg_isready"),
                    "-q",
                    "-h",
                    PG_HOST,
                    "-p",
                    str(PG_PORT),
                    "-U",
                    PG_USER,
                    "-t",
                    "3",
                ],
                check=False,
                timeout=10,
            )
        except (InfraError, OSError, subprocess.TimeoutExpired):
            return _port_open(PG_HOST, PG_PORT)
        return proc.returncode == 0

    def _psql(self, db: str, sql: str) -> str:
        proc = _run(
            [
                str(self.bin() / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                PG_HOST,
                "-p",
                str(PG_PORT),
                "-U",
                PG_USER,
                "-d",
                db,
                "-c",
                sql,
            ],
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
            timeout=60,
        )
        return proc.stdout.strip()

    def ensure_database(self) -> None:
        if self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'") != "1":
            self._psql("postgres", f'CREATE DATABASE "{PG_DB}"')

    def start(self) -> bool:
        """Start the server unless it runs (initdb first when needed). True when it started it."""
        if self.running():
            self.ensure_database()
            return False
        if _port_open(PG_HOST, PG_PORT):
            raise InfraError(
                f"port {PG_PORT} is taken by another process (not this checkout's PostgreSQL); "
                "stop it or use --infra=external"
            )
        self.install()
        self.init()
        self._prepare_dirs()
        _rotate(self.logfile)
        t0 = time.monotonic()
        proc = _run(
            self._as_owner(
                [
                    str(self.bin() / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    str(PG_TIMEOUT),
                    "-o",
                    self.server_options(),
                    "start",
                ]
            ),
            check=False,
            cwd="/",
            timeout=PG_TIMEOUT + 30,
        )
        if proc.returncode != 0:
            raise InfraError(
                f"pg_ctl start failed ({proc.returncode}): {(proc.stdout + proc.stderr).strip()}\n"
                f"last lines of {self.logfile}:\n{_tail(self.logfile)}"
            )
        self.ensure_database()
        _log(f"PostgreSQL up at {PG_HOST}:{PG_PORT} in {time.monotonic() - t0:.1f}s")
        return True

    def stop(self) -> bool:
        if not self.running():
            return False
        t0 = time.monotonic()
        _run(
            self._as_owner(
                [
                    str(self.bin() / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(PG_TIMEOUT),
                    "stop",
                ]
            ),
            cwd="/",
            timeout=PG_TIMEOUT + 30,
        )
        _log(f"PostgreSQL stopped in {time.monotonic() - t0:.1f}s")
        return True

    def status(self) -> tuple[bool, str]:
        pid = self.pid()
        if pid is not None:
            state = "up" if self.accepting() else "starting/unhealthy"
            return state == "up", f"{state:5} {self.dsn}  (pid {pid}, {self.dir})"
        if self.foreign():
            return True, f"up    {self.dsn}  (not started from this checkout)"
        return False, f"down  {self.dsn}"


# --------------------------------------------------------------------------------------------------
# The stack: both servers, a lock, and who is using them
# --------------------------------------------------------------------------------------------------


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
